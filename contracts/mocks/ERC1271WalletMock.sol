// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";

/// @title ERC1271WalletMock
/// @notice Test double of a bank's contract wallet: it acts through `execute` and accepts the
/// signatures of its owner key (ERC-1271). Not deployed outside tests.
contract ERC1271WalletMock is IERC1271 {
    error NotOwner();

    address private immutable _owner;

    /// @param owner_ The key that controls the wallet.
    constructor(address owner_) {
        _owner = owner_;
    }

    /// @notice Calls `target` with `data` from the wallet.
    /// @param target The contract to call.
    /// @param data The calldata.
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        if (msg.sender != _owner) revert NotOwner();
        return Address.functionCall(target, data);
    }

    /// @notice ERC-1271: valid when the owner key signed `hash`.
    /// @param hash The signed digest.
    /// @param signature The owner's signature.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address signer, ECDSA.RecoverError error, ) = ECDSA.tryRecover(hash, signature);
        return error == ECDSA.RecoverError.NoError && signer == _owner ? IERC1271.isValidSignature.selector : bytes4(0);
    }
}
