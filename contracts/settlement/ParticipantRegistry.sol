// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {IDepositToken} from "../interfaces/IDepositToken.sol";

/// @title ParticipantRegistry
/// @notice Operator-managed list of partner banks (address <-> BIC), settlement contracts, currency
/// tokens and per-currency caps. Deposit tokens and settlement contracts ask it before moving funds.
/// @dev BICs are stored as 11 characters: an 8-character BIC is the same institution as its "XXX"
/// branch, so both spellings resolve to one account.
contract ParticipantRegistry is IParticipantRegistry, AccessControl {
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    mapping(address account => Participant) private _participants;
    mapping(bytes11 bic => address account) private _accountsByBic;
    mapping(address account => mapping(address token => Limits)) private _limits;
    mapping(bytes3 currency => address token) private _tokensByCurrency;
    mapping(address token => bytes3 currency) private _currenciesByToken;

    /// @param admin Holder of the admin and operator roles.
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(OPERATOR_ROLE, admin);
    }

    /// @inheritdoc IParticipantRegistry
    function registerParticipant(address account, string calldata bic) external onlyRole(OPERATOR_ROLE) {
        bytes11 normalized = _normalizeBic(bic);
        _requireUnregistered(account);
        if (_accountsByBic[normalized] != address(0)) revert BicAlreadyRegistered(normalized);
        _participants[account] = Participant({bic: normalized, status: Status.Active, isSettlementContract: false});
        _accountsByBic[normalized] = account;
        emit ParticipantRegistered(account, normalized);
    }

    /// @inheritdoc IParticipantRegistry
    function registerSettlementContract(address account) external onlyRole(OPERATOR_ROLE) {
        _requireUnregistered(account);
        _participants[account] = Participant({bic: bytes11(0), status: Status.Active, isSettlementContract: true});
        emit SettlementContractRegistered(account);
    }

    /// @inheritdoc IParticipantRegistry
    function suspend(address account) external onlyRole(OPERATOR_ROLE) {
        _setStatus(account, Status.Suspended);
    }

    /// @inheritdoc IParticipantRegistry
    function reactivate(address account) external onlyRole(OPERATOR_ROLE) {
        _setStatus(account, Status.Active);
    }

    /// @inheritdoc IParticipantRegistry
    function registerToken(address token) external onlyRole(OPERATOR_ROLE) {
        if (token == address(0)) revert ZeroAddress();
        bytes memory code = bytes(IDepositToken(token).currency());
        if (code.length != 3) revert InvalidCurrency(token);
        bytes3 currency = bytes3(code);
        if (_tokensByCurrency[currency] != address(0)) revert CurrencyAlreadyRegistered(currency);
        if (_currenciesByToken[token] != bytes3(0)) revert CurrencyAlreadyRegistered(_currenciesByToken[token]);
        _tokensByCurrency[currency] = token;
        _currenciesByToken[token] = currency;
        emit TokenRegistered(token, currency);
    }

    /// @inheritdoc IParticipantRegistry
    function setLimits(
        address account,
        address token,
        uint128 singlePaymentCap,
        uint128 netDebitCap
    ) external onlyRole(OPERATOR_ROLE) {
        Participant memory record = _participants[account];
        if (record.status == Status.Unregistered) revert ParticipantUnknown(account);
        if (record.isSettlementContract) revert NotABank(account);
        if (_currenciesByToken[token] == bytes3(0)) revert TokenNotRegistered(token);
        _limits[account][token] = Limits({singlePaymentCap: singlePaymentCap, netDebitCap: netDebitCap});
        emit LimitsSet(account, token, singlePaymentCap, netDebitCap);
    }

    /// @inheritdoc IParticipantRegistry
    function checkLock(address payer, address payee, address token, uint256 amount) external view {
        _requireActiveBank(payer);
        _requireActiveBank(payee);
        uint256 cap = _limits[payer][token].singlePaymentCap;
        if (cap == 0) revert CurrencyNotEnabled(payer, token);
        if (amount > cap) revert SinglePaymentCapExceeded(payer, token, amount, cap);
    }

    /// @inheritdoc IParticipantRegistry
    function checkActiveBank(address account) external view {
        _requireActiveBank(account);
    }

    /// @inheritdoc IParticipantRegistry
    function checkNetDebit(address account, address token, uint256 debit) external view {
        _requireActiveBank(account);
        Limits memory limits = _limits[account][token];
        if (limits.singlePaymentCap == 0) revert CurrencyNotEnabled(account, token);
        if (debit > limits.netDebitCap) revert NetDebitCapExceeded(account, token, debit, limits.netDebitCap);
    }

    /// @inheritdoc IParticipantRegistry
    function canReceive(address account, address operator) external view returns (bool) {
        Participant memory recipient = _participants[account];
        if (recipient.isSettlementContract) return recipient.status == Status.Active && operator == account;
        if (recipient.status == Status.Active) return true;
        if (recipient.status == Status.Unregistered) return false;
        Participant memory via = _participants[operator];
        return via.isSettlementContract && via.status == Status.Active;
    }

    /// @inheritdoc IParticipantRegistry
    function participant(address account) external view returns (Participant memory) {
        return _participants[account];
    }

    /// @inheritdoc IParticipantRegistry
    function accountOf(string calldata bic) external view returns (address) {
        return _accountsByBic[_normalizeBic(bic)];
    }

    /// @inheritdoc IParticipantRegistry
    function limitsOf(address account, address token) external view returns (Limits memory) {
        return _limits[account][token];
    }

    /// @inheritdoc IParticipantRegistry
    function tokenOf(bytes3 currency) external view returns (address) {
        return _tokensByCurrency[currency];
    }

    function _setStatus(address account, Status status) private {
        Participant storage record = _participants[account];
        if (record.status == Status.Unregistered) revert ParticipantUnknown(account);
        if (record.status == status) revert StatusUnchanged(account, status);
        record.status = status;
        emit ParticipantStatusChanged(account, status);
    }

    function _requireUnregistered(address account) private view {
        if (account == address(0)) revert ZeroAddress();
        if (_participants[account].status != Status.Unregistered) revert AccountAlreadyRegistered(account);
    }

    function _requireActiveBank(address account) private view {
        Participant memory record = _participants[account];
        if (record.status == Status.Unregistered) revert ParticipantUnknown(account);
        if (record.isSettlementContract) revert NotABank(account);
        if (record.status == Status.Suspended) revert ParticipantSuspended(account);
    }

    /// @dev ISO 9362:2014: 4 alphanumerics (party prefix), 2 letters (ISO 3166 country), 2
    /// alphanumerics (location), optionally 3 alphanumerics (branch); upper case only.
    function _normalizeBic(string calldata bic) private pure returns (bytes11) {
        bytes calldata chars = bytes(bic);
        if (chars.length != 8 && chars.length != 11) revert InvalidBic(bic);
        for (uint256 i = 0; i < chars.length; ++i) {
            bytes1 c = chars[i];
            bool isLetter = c >= "A" && c <= "Z";
            bool isDigit = c >= "0" && c <= "9";
            bool isCountryCode = i == 4 || i == 5;
            if (!(isLetter || (isDigit && !isCountryCode))) revert InvalidBic(bic);
        }
        return chars.length == 8 ? bytes11(bytes.concat(chars, "XXX")) : bytes11(chars);
    }
}
