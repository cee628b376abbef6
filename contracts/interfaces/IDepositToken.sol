// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";

/// @title Tokenized deposit of one currency
/// @notice Minted only against reserve evidence and burned on redemption. Each mint or burn carries
/// a bytes32 evidence reference (e.g. a hash of the statement entry that moved the reserve), and a
/// reference is accepted at most once, so a retried mint can never mint twice.
interface IDepositToken is IERC20Metadata {
    event Minted(address indexed to, uint256 amount, bytes32 indexed evidence);
    event Burned(address indexed from, uint256 amount, bytes32 indexed evidence);

    error HolderNotAllowed(address account);
    error ZeroAmount();
    error MissingEvidence();
    error EvidenceAlreadyUsed(bytes32 evidence);
    error InvalidCurrencyCode(string currency);
    error InvalidDecimals(uint8 decimals);

    /// @notice The ISO 4217 code of the currency this token represents.
    function currency() external view returns (string memory);

    /// @notice Mints tokens against a reserve credit.
    /// @param to A registered active participant.
    /// @param amount The amount in minor units.
    /// @param evidence Unique evidence of the reserve movement (e.g. a hash of the statement entry).
    function mint(address to, uint256 amount, bytes32 evidence) external;

    /// @notice Burns tokens on redemption; the issuer needs `from`'s allowance unless it burns its own.
    /// @param from The holder redeeming.
    /// @param amount The amount in minor units.
    /// @param evidence Unique evidence of the reserve debit.
    function burn(address from, uint256 amount, bytes32 evidence) external;

    /// @notice Whether an evidence reference has been used by a mint or a burn.
    /// @param evidence The reference.
    function isEvidenceUsed(bytes32 evidence) external view returns (bool);

    /// @notice Stops every transfer, mint and burn.
    function pause() external;

    /// @notice Resumes transfers, mints and burns.
    function unpause() external;
}
