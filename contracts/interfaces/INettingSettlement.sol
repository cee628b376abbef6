// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Net settlement of settlement windows
/// @notice Settles a window of payments collected off chain by moving only each bank's net position
/// per currency token, atomically, once the debtor banks have approved the window by signature.
interface INettingSettlement {
    /// @notice A bank's net position in one token: negative pays in, positive is paid out.
    struct NetPosition {
        address bank;
        address token;
        int256 amount;
    }

    /// @notice One payment included in a window; the Merkle tree's leaves are built from these.
    struct PaymentLeaf {
        bytes16 uetr;
        address debtor;
        address creditor;
        address token;
        uint256 amount;
    }

    event WindowSettled(
        bytes32 indexed windowId,
        bytes32 paymentsRoot,
        bytes32 positionsHash,
        uint256 positionCount,
        address indexed settledBy
    );
    event NetPositionSettled(bytes32 indexed windowId, address indexed bank, address indexed token, int256 amount);

    error ZeroAddress();
    error EmptyWindowId();
    error EmptyPaymentsRoot();
    error WindowAlreadySettled(bytes32 windowId);
    error TooManyPositions(uint256 count, uint256 max);
    error ApprovalsLengthMismatch(uint256 positions, uint256 approvals);
    error PositionsNotSorted(uint256 index);
    error ZeroPosition(uint256 index);
    error AmountTooLarge(uint256 index, int256 amount);
    error PositionsDoNotNet(address token, int256 sum);
    error InvalidApproval(address bank);

    /// @notice Settles a window: checks every debtor's approval, caps and balances, then moves the
    /// net amounts (debtors pay in, creditors are paid), all or nothing. A window settles once.
    /// @param windowId The relay's identifier of the window.
    /// @param paymentsRoot Merkle root of the window's included payments (see `paymentLeaf`).
    /// @param positions Net positions sorted by token then bank, strictly ascending, none zero;
    /// the positions of each token sum to zero.
    /// @param approvals One entry per position: for a debtor, its EIP-712 `SettlementWindow`
    /// signature (ERC-1271 wallets included); ignored for a creditor.
    function settleWindow(
        bytes32 windowId,
        bytes32 paymentsRoot,
        NetPosition[] calldata positions,
        bytes[] calldata approvals
    ) external;

    /// @notice Pauses window settlement.
    function pause() external;

    /// @notice Resumes window settlement.
    function unpause() external;

    /// @notice The EIP-712 digest a debtor bank signs to approve a window.
    /// @param windowId The window.
    /// @param paymentsRoot The Merkle root of its payments.
    /// @param positions Its net positions, as they will be submitted.
    function approvalDigest(
        bytes32 windowId,
        bytes32 paymentsRoot,
        NetPosition[] calldata positions
    ) external view returns (bytes32);

    /// @notice The Merkle root a settled window was settled with, or zero.
    /// @param windowId The window.
    function paymentsRootOf(bytes32 windowId) external view returns (bytes32);

    /// @notice Whether a payment is included in a settled window.
    /// @param windowId The settled window.
    /// @param payment The payment.
    /// @param proof Its Merkle proof (sorted-pair hashing).
    function verifyPayment(
        bytes32 windowId,
        PaymentLeaf calldata payment,
        bytes32[] calldata proof
    ) external view returns (bool);

    /// @notice The Merkle leaf of a payment: keccak256 of keccak256 of its ABI encoding.
    /// @param payment The payment.
    function paymentLeaf(PaymentLeaf calldata payment) external pure returns (bytes32);
}
