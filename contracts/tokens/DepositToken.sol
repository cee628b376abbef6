// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IDepositToken} from "../interfaces/IDepositToken.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";

/// @title DepositToken
/// @notice A partner bank's deposit at the operator, tokenized 1:1 in one currency. `decimals()` is
/// the currency's ISO 4217 exponent, so one token unit is one minor unit (a penny, a yen, a fils).
/// @dev Only accounts the registry lets receive may be credited: active banks and settlement
/// contracts, and a suspended bank only when a settlement contract returns its own funds.
contract DepositToken is IDepositToken, ERC20Permit, AccessControl, Pausable {
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @dev ISO 4217 exponents stop at 4 (CLF, UYW); 6 leaves room for a precious-metal unit.
    uint8 private constant _MAX_DECIMALS = 6;

    IParticipantRegistry private immutable _registry;
    uint8 private immutable _decimals;
    bytes3 private immutable _currency;

    mapping(bytes32 evidence => bool) private _usedEvidence;

    /// @param name_ Token name, also the EIP-712 (permit) domain name.
    /// @param symbol_ Token symbol.
    /// @param currency_ ISO 4217 code, three upper-case letters.
    /// @param decimals_ The currency's ISO 4217 exponent.
    /// @param registry_ The participant registry consulted on every credit.
    /// @param admin Holder of the admin, issuer and pauser roles.
    constructor(
        string memory name_,
        string memory symbol_,
        string memory currency_,
        uint8 decimals_,
        IParticipantRegistry registry_,
        address admin
    ) ERC20(name_, symbol_) ERC20Permit(name_) {
        bytes memory code = bytes(currency_);
        if (code.length != 3) revert InvalidCurrencyCode(currency_);
        for (uint256 i = 0; i < 3; ++i) {
            if (code[i] < "A" || code[i] > "Z") revert InvalidCurrencyCode(currency_);
        }
        if (decimals_ > _MAX_DECIMALS) revert InvalidDecimals(decimals_);
        _currency = bytes3(code);
        _decimals = decimals_;
        _registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ISSUER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
    }

    /// @inheritdoc IDepositToken
    function mint(address to, uint256 amount, bytes32 evidence) external onlyRole(ISSUER_ROLE) {
        _useEvidence(amount, evidence);
        _mint(to, amount);
        emit Minted(to, amount, evidence);
    }

    /// @inheritdoc IDepositToken
    function burn(address from, uint256 amount, bytes32 evidence) external onlyRole(ISSUER_ROLE) {
        _useEvidence(amount, evidence);
        if (from != _msgSender()) _spendAllowance(from, _msgSender(), amount);
        _burn(from, amount);
        emit Burned(from, amount, evidence);
    }

    /// @inheritdoc IDepositToken
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IDepositToken
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @inheritdoc IDepositToken
    function currency() external view returns (string memory) {
        return string(abi.encodePacked(_currency));
    }

    /// @inheritdoc IDepositToken
    function isEvidenceUsed(bytes32 evidence) external view returns (bool) {
        return _usedEvidence[evidence];
    }

    /// @notice The participant registry this token consults.
    function registry() external view returns (IParticipantRegistry) {
        return _registry;
    }

    /// @notice The currency's ISO 4217 exponent.
    function decimals() public view override(ERC20, IERC20Metadata) returns (uint8) {
        return _decimals;
    }

    /// @dev Every balance change passes here: mint, burn and transfer.
    function _update(address from, address to, uint256 value) internal override whenNotPaused {
        if (to != address(0) && !_registry.canReceive(to, _msgSender())) revert HolderNotAllowed(to);
        super._update(from, to, value);
    }

    function _useEvidence(uint256 amount, bytes32 evidence) private {
        if (amount == 0) revert ZeroAmount();
        if (evidence == bytes32(0)) revert MissingEvidence();
        if (_usedEvidence[evidence]) revert EvidenceAlreadyUsed(evidence);
        _usedEvidence[evidence] = true;
    }
}
