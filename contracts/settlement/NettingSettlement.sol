// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {INettingSettlement} from "../interfaces/INettingSettlement.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";

/// @title NettingSettlement
/// @notice Multilateral net settlement of windows: thousands of payments settle with one token
/// movement per bank and currency. Debtor banks approve the exact positions by EIP-712 signature
/// and must have approved this contract on their tokens; the contract pulls every debit in, then
/// pays every credit out, in one transaction.
contract NettingSettlement is INettingSettlement, AccessControl, Pausable, ReentrancyGuardTransient, EIP712 {
    using SafeERC20 for IERC20;

    bytes32 public constant SETTLER_ROLE = keccak256("SETTLER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice Most positions one window may carry.
    uint256 public constant MAX_POSITIONS = 512;
    /// @dev Bounds each position so that no sum over `MAX_POSITIONS` of them can overflow.
    int256 private constant _MAX_ABS_AMOUNT = int256(uint256(type(uint128).max));

    bytes32 public constant NET_POSITION_TYPEHASH = keccak256("NetPosition(address bank,address token,int256 amount)");
    bytes32 public constant SETTLEMENT_WINDOW_TYPEHASH =
        keccak256(
            "SettlementWindow(bytes32 windowId,bytes32 paymentsRoot,NetPosition[] positions)"
            "NetPosition(address bank,address token,int256 amount)"
        );

    IParticipantRegistry private immutable _registry;

    mapping(bytes32 windowId => bytes32 paymentsRoot) private _settledRoots;

    /// @param registry_ The participant registry that vets banks and net debit caps.
    /// @param admin Holder of the admin, settler and pauser roles.
    constructor(IParticipantRegistry registry_, address admin) EIP712("Corridor NettingSettlement", "1") {
        if (address(registry_) == address(0) || admin == address(0)) revert ZeroAddress();
        _registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(SETTLER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
    }

    /// @inheritdoc INettingSettlement
    function settleWindow(
        bytes32 windowId,
        bytes32 paymentsRoot,
        NetPosition[] calldata positions,
        bytes[] calldata approvals
    ) external onlyRole(SETTLER_ROLE) whenNotPaused nonReentrant {
        if (windowId == bytes32(0)) revert EmptyWindowId();
        if (paymentsRoot == bytes32(0)) revert EmptyPaymentsRoot();
        if (_settledRoots[windowId] != bytes32(0)) revert WindowAlreadySettled(windowId);
        if (positions.length != approvals.length) revert ApprovalsLengthMismatch(positions.length, approvals.length);
        bytes32 positionsHash = _hashPositions(positions);
        bytes32 digest = _windowDigest(windowId, paymentsRoot, positionsHash);
        _checkParticipants(positions, approvals, digest);

        _settledRoots[windowId] = paymentsRoot;
        emit WindowSettled(windowId, paymentsRoot, positionsHash, positions.length, _msgSender());
        for (uint256 i = 0; i < positions.length; ++i) {
            emit NetPositionSettled(windowId, positions[i].bank, positions[i].token, positions[i].amount);
        }
        _moveNetAmounts(positions);
    }

    /// @inheritdoc INettingSettlement
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc INettingSettlement
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @inheritdoc INettingSettlement
    function approvalDigest(
        bytes32 windowId,
        bytes32 paymentsRoot,
        NetPosition[] calldata positions
    ) external view returns (bytes32) {
        return _windowDigest(windowId, paymentsRoot, _hashPositions(positions));
    }

    /// @inheritdoc INettingSettlement
    function paymentsRootOf(bytes32 windowId) external view returns (bytes32) {
        return _settledRoots[windowId];
    }

    /// @inheritdoc INettingSettlement
    function verifyPayment(
        bytes32 windowId,
        PaymentLeaf calldata payment,
        bytes32[] calldata proof
    ) external view returns (bool) {
        bytes32 root = _settledRoots[windowId];
        return root != bytes32(0) && MerkleProof.verifyCalldata(proof, root, paymentLeaf(payment));
    }

    /// @notice The EIP-712 domain separator of window approvals.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice The participant registry this contract consults.
    function registry() external view returns (IParticipantRegistry) {
        return _registry;
    }

    /// @inheritdoc INettingSettlement
    function paymentLeaf(PaymentLeaf calldata payment) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(payment))));
    }

    /// @dev Validates shape (sorted, non-zero, bounded, netting to zero per token) while hashing,
    /// as EIP-712 hashes an array: keccak256 of the concatenated struct hashes.
    function _hashPositions(NetPosition[] calldata positions) private pure returns (bytes32) {
        uint256 count = positions.length;
        if (count > MAX_POSITIONS) revert TooManyPositions(count, MAX_POSITIONS);
        bytes32[] memory structHashes = new bytes32[](count);
        int256 tokenSum = 0;
        for (uint256 i = 0; i < count; ++i) {
            NetPosition calldata position = positions[i];
            if (i > 0) {
                NetPosition calldata previous = positions[i - 1];
                if (position.token != previous.token) {
                    if (position.token < previous.token) revert PositionsNotSorted(i);
                    if (tokenSum != 0) revert PositionsDoNotNet(previous.token, tokenSum);
                } else if (position.bank <= previous.bank) {
                    revert PositionsNotSorted(i);
                }
            }
            if (position.amount == 0) revert ZeroPosition(i);
            if (position.amount > _MAX_ABS_AMOUNT || position.amount < -_MAX_ABS_AMOUNT) {
                revert AmountTooLarge(i, position.amount);
            }
            tokenSum += position.amount;
            structHashes[i] = keccak256(abi.encode(NET_POSITION_TYPEHASH, position.bank, position.token, position.amount));
        }
        if (tokenSum != 0) revert PositionsDoNotNet(positions[count - 1].token, tokenSum);
        return keccak256(abi.encodePacked(structHashes));
    }

    function _windowDigest(bytes32 windowId, bytes32 paymentsRoot, bytes32 positionsHash) private view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SETTLEMENT_WINDOW_TYPEHASH, windowId, paymentsRoot, positionsHash)));
    }

    function _checkParticipants(NetPosition[] calldata positions, bytes[] calldata approvals, bytes32 digest) private view {
        for (uint256 i = 0; i < positions.length; ++i) {
            NetPosition calldata position = positions[i];
            if (position.amount > 0) {
                _registry.checkActiveBank(position.bank);
                continue;
            }
            if (!SignatureChecker.isValidSignatureNow(position.bank, digest, approvals[i])) {
                revert InvalidApproval(position.bank);
            }
            _registry.checkNetDebit(position.bank, position.token, uint256(-position.amount));
        }
    }

    /// @dev Debits first, so that every credit is paid from funds already in this contract.
    function _moveNetAmounts(NetPosition[] calldata positions) private {
        for (uint256 i = 0; i < positions.length; ++i) {
            NetPosition calldata position = positions[i];
            if (position.amount < 0) {
                IERC20(position.token).safeTransferFrom(position.bank, address(this), uint256(-position.amount));
            }
        }
        for (uint256 i = 0; i < positions.length; ++i) {
            NetPosition calldata position = positions[i];
            if (position.amount > 0) {
                IERC20(position.token).safeTransfer(position.bank, uint256(position.amount));
            }
        }
    }
}
