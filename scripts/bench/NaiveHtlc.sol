// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

interface IERC20Minimal {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title NaiveHtlc
/// @notice Benchmark baseline only, never deployed: a textbook ERC-20 hash time-locked contract that,
/// like most public HTLCs, stores the whole swap struct per lock and keeps the revealed preimage.
contract NaiveHtlc {
    struct Swap {
        address sender;
        address receiver;
        address token;
        uint256 amount;
        bytes32 hashlock;
        uint256 timelock;
        bool withdrawn;
        bool refunded;
        bytes32 preimage;
    }

    mapping(bytes32 swapId => Swap) public swaps;

    event SwapOpened(bytes32 indexed swapId, address indexed sender, address indexed receiver, address token, uint256 amount, bytes32 hashlock, uint256 timelock);
    event SwapClaimed(bytes32 indexed swapId, bytes32 preimage);

    function open(address receiver, address token, uint256 amount, bytes32 hashlock, uint256 timelock) external returns (bytes32 swapId) {
        require(amount > 0, "amount");
        require(timelock > block.timestamp, "timelock");
        swapId = keccak256(abi.encodePacked(msg.sender, receiver, token, amount, hashlock, timelock));
        require(swaps[swapId].sender == address(0), "exists");
        require(IERC20Minimal(token).transferFrom(msg.sender, address(this), amount), "transferFrom");
        swaps[swapId] = Swap(msg.sender, receiver, token, amount, hashlock, timelock, false, false, bytes32(0));
        emit SwapOpened(swapId, msg.sender, receiver, token, amount, hashlock, timelock);
    }

    function claim(bytes32 swapId, bytes32 preimage) external {
        Swap storage swap = swaps[swapId];
        require(swap.sender != address(0), "unknown");
        require(swap.receiver == msg.sender, "receiver");
        require(!swap.withdrawn && !swap.refunded, "closed");
        require(swap.timelock > block.timestamp, "expired");
        require(swap.hashlock == sha256(abi.encodePacked(preimage)), "preimage");
        swap.preimage = preimage;
        swap.withdrawn = true;
        require(IERC20Minimal(swap.token).transfer(swap.receiver, swap.amount), "transfer");
        emit SwapClaimed(swapId, preimage);
    }
}
