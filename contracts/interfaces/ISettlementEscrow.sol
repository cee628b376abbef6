// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Gross settlement escrow
/// @notice Locks a payer's deposit tokens for one payment, keyed by the payment's UETR, then releases
/// them to the payee (by hashlock preimage or attestation), refunds them after expiry, or settles
/// two legs in two currencies together (payment versus payment).
interface ISettlementEscrow {
    enum PaymentState {
        None,
        Locked,
        Released,
        Refunded
    }

    /// @notice What a payer asks to lock; the payer is the caller.
    /// @dev `hashlock` is the sha256 of a secret preimage, or zero to require an attestation instead.
    /// `linkedUetr` is zero for a gross payment; for a PvP leg it names the other leg, and the leg can
    /// then only be released together with it (by `settlePvP`), never alone.
    struct LockRequest {
        bytes16 uetr;
        address payee;
        address token;
        uint256 amount;
        uint64 expiry;
        bytes32 hashlock;
        bytes16 linkedUetr;
    }

    /// @notice The full terms of a locked payment; only their hash is stored, so later calls pass
    /// them back (they are all in the `Locked` event).
    struct LockTerms {
        bytes16 uetr;
        address payer;
        address payee;
        address token;
        uint256 amount;
        uint64 expiry;
        bytes32 hashlock;
        bytes16 linkedUetr;
    }

    /// @notice A lock made by an operator on a payer's behalf.
    struct OperatorLock {
        address payer;
        LockRequest request;
    }

    event OperatorAllowanceSet(address indexed payer, address indexed operator, address indexed token, uint256 allowance);
    event Locked(
        bytes16 indexed uetr,
        address indexed payer,
        address indexed payee,
        address token,
        uint256 amount,
        uint64 expiry,
        bytes32 hashlock,
        bytes16 linkedUetr
    );
    event Released(bytes16 indexed uetr, address indexed releasedBy);
    event Refunded(bytes16 indexed uetr, address indexed refundedBy);
    event PvPSettled(bytes16 indexed uetrA, bytes16 indexed uetrB, address indexed settledBy);

    error ZeroAddress();
    error ZeroAmount();
    error ZeroUetr();
    error AmountTooLarge(uint256 amount);
    error PayerIsPayee(address account);
    error ExpiryNotInFuture(uint64 expiry);
    error ExpiryTooFar(uint64 expiry, uint64 latest);
    error EmptyBatch();
    error OperatorAllowanceExceeded(address payer, address operator, address token, uint256 amount, uint256 allowance);
    error BatchTooLarge(uint256 size, uint256 max);
    error BatchLengthMismatch(uint256 terms, uint256 authorizations);
    error PaymentAlreadyExists(bytes16 uetr);
    error PaymentNotFound(bytes16 uetr);
    error PaymentAlreadyReleased(bytes16 uetr);
    error PaymentAlreadyRefunded(bytes16 uetr);
    error TermsMismatch(bytes16 uetr);
    error LockExpired(bytes16 uetr, uint64 expiry);
    error LockNotExpired(bytes16 uetr, uint64 expiry);
    error InvalidPreimage(bytes16 uetr);
    error InvalidAttestation(bytes16 uetr);
    error LinkedLegRequiresPvP(bytes16 uetr, bytes16 linkedUetr);
    error PvPLegsNotLinked(bytes16 uetrA, bytes16 uetrB);
    error PvPSameToken(address token);
    error PvPCounterpartyMismatch(address payeeA, address payerB);
    error PvPConditionMismatch(bytes16 uetrA, bytes16 uetrB);

    /// @notice Locks the caller's tokens for one payment. The caller must have approved the escrow.
    /// @param request The payment's UETR, payee, token, amount, expiry and hashlock (zero: attested).
    function lock(LockRequest calldata request) external;

    /// @notice Locks the caller's tokens for several payments at once, all or none.
    /// @param requests At most `MAX_BATCH_SIZE` lock requests.
    function lockBatch(LockRequest[] calldata requests) external;

    /// @notice Lets `operator` (e.g. the relay) lock up to `allowance` of the caller's `token` on its
    /// behalf; each operator lock consumes it, zero revokes, the maximum uint256 never runs down.
    /// The caller must also have approved the escrow on the token.
    /// @param operator The address that may call `lockFor` / `lockBatchFor` for the caller.
    /// @param token The currency token.
    /// @param allowance The total amount the operator may still lock.
    function setOperatorAllowance(address operator, address token, uint256 allowance) external;

    /// @notice Locks a payer's tokens for one payment on its behalf, within the operator allowance
    /// the payer gave the caller.
    /// @param payer The bank whose tokens are locked.
    /// @param request The payment's terms.
    function lockFor(address payer, LockRequest calldata request) external;

    /// @notice Locks several payments of one or many payers on their behalf, all or none.
    /// @param locks At most `MAX_BATCH_SIZE` payer and request pairs.
    function lockBatchFor(OperatorLock[] calldata locks) external;

    /// @notice The amount `operator` may still lock of `payer`'s `token`.
    /// @param payer The bank.
    /// @param operator The operator.
    /// @param token The currency token.
    function operatorAllowance(address payer, address operator, address token) external view returns (uint256);

    /// @notice Pays a locked payment to its payee before expiry.
    /// @param terms The terms the payment was locked under.
    /// @param authorization The 32-byte preimage of a hashlocked payment. For an attested payment: empty
    /// when an attester or the payee sends the call itself, otherwise an EIP-712 `Release` signature by
    /// an attester or by the payee (ERC-1271 wallets included).
    function release(LockTerms calldata terms, bytes calldata authorization) external;

    /// @notice Pays several locked payments to their payees at once, all or none; each is checked
    /// exactly as `release` checks it and emits its own `Released`.
    /// @param terms At most `MAX_BATCH_SIZE` payments' terms, each as it was locked.
    /// @param authorizations One per payment, in the same order, each what `release` takes for it.
    function releaseBatch(LockTerms[] calldata terms, bytes[] calldata authorizations) external;

    /// @notice Returns a locked payment's tokens to its payer once it has expired. Anyone may call.
    /// @param terms The terms the payment was locked under.
    function refund(LockTerms calldata terms) external;

    /// @notice Refunds several expired payments at once, all or none; each is checked exactly as
    /// `refund` checks it and emits its own `Refunded`. Anyone may call.
    /// @param terms At most `MAX_BATCH_SIZE` payments' terms, each as it was locked.
    function refundBatch(LockTerms[] calldata terms) external;

    /// @notice Releases two locked legs in two currencies in one step, or neither.
    /// @dev Each leg must name the other as its `linkedUetr`, the legs must be in two tokens, and the
    /// payee of leg A must be the payer of leg B (the counterparty paid in one currency pays out the
    /// other). Both legs share one hashlock, whose preimage is the authorization, or are both
    /// attested, and then the authorization is an attester's EIP-712 `PvPRelease` signature.
    /// @param legA The first leg's terms.
    /// @param legB The second leg's terms.
    /// @param authorization The shared preimage, or an attester's signature.
    function settlePvP(LockTerms calldata legA, LockTerms calldata legB, bytes calldata authorization) external;

    /// @notice Pauses locks, releases, refunds and PvP settlement.
    function pause() external;

    /// @notice Resumes the escrow.
    function unpause() external;

    /// @notice The state of a payment.
    /// @param uetr The payment's UETR.
    function paymentState(bytes16 uetr) external view returns (PaymentState);

    /// @notice The hash stored for a locked payment's terms.
    /// @param terms The terms.
    function hashTerms(LockTerms calldata terms) external pure returns (bytes32);
}
