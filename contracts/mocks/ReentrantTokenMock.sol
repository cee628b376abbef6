// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test double: an ERC-20 that calls back into a contract from inside every transfer, to
/// prove the settlement contracts refuse re-entry. Never deployed outside tests.
contract ReentrantTokenMock is ERC20 {
    string private _currency;
    address private _target;
    bytes private _reentry;

    constructor(string memory currency_) ERC20("Reentrant test token", currency_) {
        _currency = currency_;
    }

    /// @notice The ISO 4217 code the registry reads.
    function currency() external view returns (string memory) {
        return _currency;
    }

    /// @notice Mints test balances to anyone.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Calls `target` with `reentry` from inside each later transfer (empty: no call), and
    /// reverts with whatever that call reverts with.
    function setReentry(address target, bytes calldata reentry) external {
        _target = target;
        _reentry = reentry;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (_reentry.length == 0) return;
        // The re-entry is the point of this double: a raw call, its revert passed on unchanged.
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, bytes memory reason) = _target.call(_reentry);
        if (!ok) {
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                revert(add(reason, 32), mload(reason))
            }
        }
    }
}
