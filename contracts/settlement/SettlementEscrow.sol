// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ISettlementEscrow} from "../interfaces/ISettlementEscrow.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";

/// @title SettlementEscrow
/// @notice Gross settlement of single payments and payment-versus-payment pairs between partner banks.
/// @dev One storage slot per payment: the hash of its terms while locked, then a tombstone (released
/// or refunded) that keeps the UETR from ever being locked or paid again. Callers pass the terms back.
contract SettlementEscrow is ISettlementEscrow, AccessControl, Pausable, ReentrancyGuardTransient, EIP712 {
    using SafeERC20 for IERC20;

    bytes32 public constant ATTESTER_ROLE = keccak256("ATTESTER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice Most payments one batch call (`lockBatch`, `lockBatchFor`, `releaseBatch`, `refundBatch`) may carry.
    uint256 public constant MAX_BATCH_SIZE = 100;
    /// @notice Latest expiry a lock may have, counted from its block.
    uint64 public constant MAX_LOCK_DURATION = 30 days;

    bytes32 public constant RELEASE_TYPEHASH = keccak256("Release(bytes16 uetr,bytes32 termsHash)");
    bytes32 public constant PVP_RELEASE_TYPEHASH =
        keccak256("PvPRelease(bytes16 uetrA,bytes32 termsHashA,bytes16 uetrB,bytes32 termsHashB)");

    bytes32 private constant _RELEASED = bytes32(uint256(1));
    bytes32 private constant _REFUNDED = bytes32(uint256(2));

    IParticipantRegistry private immutable _registry;

    mapping(bytes16 uetr => bytes32 termsHashOrOutcome) private _payments;
    mapping(address payer => mapping(address operator => mapping(address token => uint256))) private _operatorAllowances;

    /// @param registry_ The participant registry that vets payers, payees and caps.
    /// @param admin Holder of the admin, attester and pauser roles.
    constructor(IParticipantRegistry registry_, address admin) EIP712("Corridor SettlementEscrow", "1") {
        if (address(registry_) == address(0) || admin == address(0)) revert ZeroAddress();
        _registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ATTESTER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
    }

    /// @inheritdoc ISettlementEscrow
    function lock(LockRequest calldata request) external whenNotPaused nonReentrant {
        _lock(_msgSender(), request);
    }

    /// @inheritdoc ISettlementEscrow
    function lockBatch(LockRequest[] calldata requests) external whenNotPaused nonReentrant {
        _requireBatchSize(requests.length);
        address payer = _msgSender();
        for (uint256 i = 0; i < requests.length; ++i) {
            _lock(payer, requests[i]);
        }
    }

    /// @inheritdoc ISettlementEscrow
    function setOperatorAllowance(address operator, address token, uint256 allowance) external {
        if (operator == address(0) || token == address(0)) revert ZeroAddress();
        _operatorAllowances[_msgSender()][operator][token] = allowance;
        emit OperatorAllowanceSet(_msgSender(), operator, token, allowance);
    }

    /// @inheritdoc ISettlementEscrow
    function lockFor(address payer, LockRequest calldata request) external whenNotPaused nonReentrant {
        _spendOperatorAllowance(payer, request);
        _lock(payer, request);
    }

    /// @inheritdoc ISettlementEscrow
    function lockBatchFor(OperatorLock[] calldata locks) external whenNotPaused nonReentrant {
        _requireBatchSize(locks.length);
        for (uint256 i = 0; i < locks.length; ++i) {
            _spendOperatorAllowance(locks[i].payer, locks[i].request);
            _lock(locks[i].payer, locks[i].request);
        }
    }

    /// @inheritdoc ISettlementEscrow
    function release(LockTerms calldata terms, bytes calldata authorization) external whenNotPaused nonReentrant {
        _release(terms, authorization);
        IERC20(terms.token).safeTransfer(terms.payee, terms.amount);
    }

    /// @inheritdoc ISettlementEscrow
    function releaseBatch(
        LockTerms[] calldata terms,
        bytes[] calldata authorizations
    ) external whenNotPaused nonReentrant {
        _requireBatchSize(terms.length);
        if (authorizations.length != terms.length) revert BatchLengthMismatch(terms.length, authorizations.length);
        for (uint256 i = 0; i < terms.length; ++i) {
            _release(terms[i], authorizations[i]);
        }
        // Checks and effects of every payment before any transfer: checks-effects-interactions over
        // the whole batch, not per payment.
        for (uint256 i = 0; i < terms.length; ++i) {
            IERC20(terms[i].token).safeTransfer(terms[i].payee, terms[i].amount);
        }
    }

    /// @inheritdoc ISettlementEscrow
    function refund(LockTerms calldata terms) external whenNotPaused nonReentrant {
        _refund(terms);
        IERC20(terms.token).safeTransfer(terms.payer, terms.amount);
    }

    /// @inheritdoc ISettlementEscrow
    function refundBatch(LockTerms[] calldata terms) external whenNotPaused nonReentrant {
        _requireBatchSize(terms.length);
        for (uint256 i = 0; i < terms.length; ++i) {
            _refund(terms[i]);
        }
        for (uint256 i = 0; i < terms.length; ++i) {
            IERC20(terms[i].token).safeTransfer(terms[i].payer, terms[i].amount);
        }
    }

    /// @inheritdoc ISettlementEscrow
    function settlePvP(
        LockTerms calldata legA,
        LockTerms calldata legB,
        bytes calldata authorization
    ) external whenNotPaused nonReentrant {
        if (legA.linkedUetr != legB.uetr || legB.linkedUetr != legA.uetr) revert PvPLegsNotLinked(legA.uetr, legB.uetr);
        if (legA.token == legB.token) revert PvPSameToken(legA.token);
        if (legA.payee != legB.payer) revert PvPCounterpartyMismatch(legA.payee, legB.payer);
        if (legA.hashlock != legB.hashlock) revert PvPConditionMismatch(legA.uetr, legB.uetr);
        bytes32 hashA = _requireReleasable(legA);
        bytes32 hashB = _requireReleasable(legB);
        if (legA.hashlock != bytes32(0)) {
            _requirePreimage(legA.uetr, legA.hashlock, authorization);
        } else {
            bytes32 digest = _hashTypedDataV4(
                keccak256(abi.encode(PVP_RELEASE_TYPEHASH, legA.uetr, hashA, legB.uetr, hashB))
            );
            if (!_isAttester(digest, authorization)) revert InvalidAttestation(legA.uetr);
        }
        _registry.checkActiveBank(legA.payee);
        _registry.checkActiveBank(legB.payee);
        _payments[legA.uetr] = _RELEASED;
        _payments[legB.uetr] = _RELEASED;
        emit Released(legA.uetr, _msgSender());
        emit Released(legB.uetr, _msgSender());
        emit PvPSettled(legA.uetr, legB.uetr, _msgSender());
        IERC20(legA.token).safeTransfer(legA.payee, legA.amount);
        IERC20(legB.token).safeTransfer(legB.payee, legB.amount);
    }

    /// @inheritdoc ISettlementEscrow
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc ISettlementEscrow
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @inheritdoc ISettlementEscrow
    function operatorAllowance(address payer, address operator, address token) external view returns (uint256) {
        return _operatorAllowances[payer][operator][token];
    }

    /// @inheritdoc ISettlementEscrow
    function paymentState(bytes16 uetr) external view returns (PaymentState) {
        bytes32 stored = _payments[uetr];
        if (stored == bytes32(0)) return PaymentState.None;
        if (stored == _RELEASED) return PaymentState.Released;
        if (stored == _REFUNDED) return PaymentState.Refunded;
        return PaymentState.Locked;
    }

    /// @notice The EIP-712 domain separator of attestations.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice The participant registry this escrow consults.
    function registry() external view returns (IParticipantRegistry) {
        return _registry;
    }

    /// @inheritdoc ISettlementEscrow
    function hashTerms(LockTerms calldata terms) public pure returns (bytes32) {
        return keccak256(abi.encode(terms));
    }

    function _requireBatchSize(uint256 size) private pure {
        if (size == 0) revert EmptyBatch();
        if (size > MAX_BATCH_SIZE) revert BatchTooLarge(size, MAX_BATCH_SIZE);
    }

    function _spendOperatorAllowance(address payer, LockRequest calldata request) private {
        address operator = _msgSender();
        uint256 allowance = _operatorAllowances[payer][operator][request.token];
        if (allowance == type(uint256).max) return;
        if (request.amount > allowance) {
            revert OperatorAllowanceExceeded(payer, operator, request.token, request.amount, allowance);
        }
        uint256 remaining = allowance - request.amount;
        _operatorAllowances[payer][operator][request.token] = remaining;
        emit OperatorAllowanceSet(payer, operator, request.token, remaining);
    }

    function _lock(address payer, LockRequest calldata request) private {
        if (request.uetr == bytes16(0)) revert ZeroUetr();
        if (request.amount == 0) revert ZeroAmount();
        if (request.amount > type(uint128).max) revert AmountTooLarge(request.amount);
        if (request.expiry <= block.timestamp) revert ExpiryNotInFuture(request.expiry);
        uint64 latest = uint64(block.timestamp) + MAX_LOCK_DURATION;
        if (request.expiry > latest) revert ExpiryTooFar(request.expiry, latest);
        if (request.payee == payer) revert PayerIsPayee(payer);
        if (request.linkedUetr == request.uetr) revert PvPLegsNotLinked(request.uetr, request.linkedUetr);
        if (_payments[request.uetr] != bytes32(0)) revert PaymentAlreadyExists(request.uetr);
        _registry.checkLock(payer, request.payee, request.token, request.amount);

        // Same bytes as abi.encode(LockTerms) for this static struct, without building it in memory.
        _payments[request.uetr] = keccak256(
            abi.encode(
                request.uetr,
                payer,
                request.payee,
                request.token,
                request.amount,
                request.expiry,
                request.hashlock,
                request.linkedUetr
            )
        );
        emit Locked(
            request.uetr,
            payer,
            request.payee,
            request.token,
            request.amount,
            request.expiry,
            request.hashlock,
            request.linkedUetr
        );
        IERC20(request.token).safeTransferFrom(payer, address(this), request.amount);
    }

    /// @dev Checks and records one release; the caller pays the payee out afterwards.
    function _release(LockTerms calldata terms, bytes calldata authorization) private {
        bytes32 termsHash = _requireReleasable(terms);
        if (terms.linkedUetr != bytes16(0)) revert LinkedLegRequiresPvP(terms.uetr, terms.linkedUetr);
        if (terms.hashlock != bytes32(0)) {
            _requirePreimage(terms.uetr, terms.hashlock, authorization);
        } else if (!_isAttestedRelease(terms, termsHash, authorization)) {
            revert InvalidAttestation(terms.uetr);
        }
        _registry.checkActiveBank(terms.payee);
        _payments[terms.uetr] = _RELEASED;
        emit Released(terms.uetr, _msgSender());
    }

    /// @dev Attested by an attester or the payee: with no authorization, by sending the transaction
    /// themselves (the sender's own signature, so no second one is needed); otherwise by an EIP-712
    /// `Release` signature.
    function _isAttestedRelease(
        LockTerms calldata terms,
        bytes32 termsHash,
        bytes calldata authorization
    ) private view returns (bool) {
        if (authorization.length == 0) {
            address sender = _msgSender();
            return sender == terms.payee || hasRole(ATTESTER_ROLE, sender);
        }
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(RELEASE_TYPEHASH, terms.uetr, termsHash)));
        return _isAttesterOrPayee(digest, authorization, terms.payee);
    }

    /// @dev Checks and records one refund; the caller pays the payer back afterwards.
    function _refund(LockTerms calldata terms) private {
        _requireLocked(terms);
        if (block.timestamp < terms.expiry) revert LockNotExpired(terms.uetr, terms.expiry);
        _payments[terms.uetr] = _REFUNDED;
        emit Refunded(terms.uetr, _msgSender());
    }

    function _requireReleasable(LockTerms calldata terms) private view returns (bytes32 termsHash) {
        termsHash = _requireLocked(terms);
        if (block.timestamp >= terms.expiry) revert LockExpired(terms.uetr, terms.expiry);
    }

    function _requireLocked(LockTerms calldata terms) private view returns (bytes32 termsHash) {
        bytes32 stored = _payments[terms.uetr];
        if (stored == bytes32(0)) revert PaymentNotFound(terms.uetr);
        if (stored == _RELEASED) revert PaymentAlreadyReleased(terms.uetr);
        if (stored == _REFUNDED) revert PaymentAlreadyRefunded(terms.uetr);
        termsHash = hashTerms(terms);
        if (stored != termsHash) revert TermsMismatch(terms.uetr);
    }

    function _requirePreimage(bytes16 uetr, bytes32 hashlock, bytes calldata preimage) private pure {
        if (preimage.length != 32 || sha256(preimage) != hashlock) revert InvalidPreimage(uetr);
    }

    function _isAttesterOrPayee(bytes32 digest, bytes calldata signature, address payee) private view returns (bool) {
        (address signer, ECDSA.RecoverError error, ) = ECDSA.tryRecover(digest, signature);
        if (error == ECDSA.RecoverError.NoError && (signer == payee || hasRole(ATTESTER_ROLE, signer))) return true;
        return SignatureChecker.isValidERC1271SignatureNow(payee, digest, signature);
    }

    function _isAttester(bytes32 digest, bytes calldata signature) private view returns (bool) {
        (address signer, ECDSA.RecoverError error, ) = ECDSA.tryRecover(digest, signature);
        return error == ECDSA.RecoverError.NoError && hasRole(ATTESTER_ROLE, signer);
    }
}
