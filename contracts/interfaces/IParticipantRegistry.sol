// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Participant registry of a Corridor network
/// @notice Who may hold deposit tokens and settle: partner banks (by BIC) and settlement contracts,
/// their status, and each bank's caps per currency token.
interface IParticipantRegistry {
    enum Status {
        Unregistered,
        Active,
        Suspended
    }

    /// @dev One storage slot per account.
    struct Participant {
        bytes11 bic;
        Status status;
        bool isSettlementContract;
    }

    /// @dev Caps in the token's minor units. A single-payment cap of zero means the currency is not
    /// enabled for the bank.
    struct Limits {
        uint128 singlePaymentCap;
        uint128 netDebitCap;
    }

    event ParticipantRegistered(address indexed account, bytes11 indexed bic);
    event SettlementContractRegistered(address indexed account);
    event ParticipantStatusChanged(address indexed account, Status status);
    event TokenRegistered(address indexed token, bytes3 indexed currency);
    event LimitsSet(address indexed account, address indexed token, uint128 singlePaymentCap, uint128 netDebitCap);

    error ZeroAddress();
    error InvalidBic(string bic);
    error BicAlreadyRegistered(bytes11 bic);
    error AccountAlreadyRegistered(address account);
    error ParticipantUnknown(address account);
    error ParticipantSuspended(address account);
    error StatusUnchanged(address account, Status status);
    error NotABank(address account);
    error InvalidCurrency(address token);
    error CurrencyAlreadyRegistered(bytes3 currency);
    error TokenNotRegistered(address token);
    error CurrencyNotEnabled(address account, address token);
    error SinglePaymentCapExceeded(address account, address token, uint256 amount, uint256 cap);
    error NetDebitCapExceeded(address account, address token, uint256 debit, uint256 cap);

    /// @notice Registers a partner bank's address under its BIC, active at once.
    /// @param account The bank's address (an EOA or a contract wallet).
    /// @param bic The bank's BIC, 8 or 11 characters (ISO 9362).
    function registerParticipant(address account, string calldata bic) external;

    /// @notice Registers a settlement contract (escrow, netting), which may then hold deposit tokens.
    /// @param account The contract's address.
    function registerSettlementContract(address account) external;

    /// @notice Suspends an account: it can no longer lock, be paid, or approve net debits.
    /// @param account A registered, active account.
    function suspend(address account) external;

    /// @notice Makes a suspended account active again.
    /// @param account A registered, suspended account.
    function reactivate(address account) external;

    /// @notice Registers a deposit token as the token of its ISO 4217 currency.
    /// @param token The token; its `currency()` names the currency, which must not have a token yet.
    function registerToken(address token) external;

    /// @notice Sets a bank's caps for one currency token; a single-payment cap of zero disables the currency.
    /// @param account A registered bank.
    /// @param token A registered token.
    /// @param singlePaymentCap The largest amount one locked payment may carry.
    /// @param netDebitCap The largest net debit the bank may settle in one window.
    function setLimits(address account, address token, uint128 singlePaymentCap, uint128 netDebitCap) external;

    /// @notice Reverts unless `payer` may lock `amount` of `token` for `payee` now.
    /// @param payer The bank whose tokens are locked.
    /// @param payee The bank to be paid.
    /// @param token The currency token.
    /// @param amount The amount in minor units.
    function checkLock(address payer, address payee, address token, uint256 amount) external view;

    /// @notice Reverts unless `account` is a registered, active bank (not a settlement contract).
    /// @param account Any address.
    function checkActiveBank(address account) external view;

    /// @notice Reverts unless `account` may settle a net debit of `debit` in `token` now.
    /// @param account The debtor bank.
    /// @param token The currency token.
    /// @param debit The net debit in minor units.
    function checkNetDebit(address account, address token, uint256 debit) external view;

    /// @notice Whether `account` may receive deposit tokens in a transfer made by `operator`.
    /// @dev Active banks may always receive. A suspended bank may still get its own funds back from
    /// an active settlement contract (refunds), so that suspension never traps funds. A settlement
    /// contract receives only in transfers it makes itself (pulling a lock or a net debit), so no
    /// token can be sent to it that it has no record of.
    /// @param account The recipient.
    /// @param operator The address that makes the transfer (the token's msg.sender).
    function canReceive(address account, address operator) external view returns (bool);

    /// @notice The record of an account.
    /// @param account Any address.
    function participant(address account) external view returns (Participant memory);

    /// @notice The address registered under a BIC, or zero.
    /// @param bic The BIC as 8 or 11 characters.
    function accountOf(string calldata bic) external view returns (address);

    /// @notice A bank's caps for a currency token.
    /// @param account The bank.
    /// @param token The currency token.
    function limitsOf(address account, address token) external view returns (Limits memory);

    /// @notice The registered token of an ISO 4217 currency code, or zero.
    /// @param currency The three-letter code, e.g. "GBP".
    function tokenOf(bytes3 currency) external view returns (address);
}
