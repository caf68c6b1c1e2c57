// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";

import {IClientPool} from "./interfaces/IClientPool.sol";
import {IClientRegistry} from "./interfaces/IClientRegistry.sol";
import {IClientToken} from "./interfaces/IClientToken.sol";
import {ClientToken} from "./ClientToken.sol";

/// @title ClientRegistry
/// @notice Registers federation clients. Each registration makes the client's own ERC-20 (fixed
/// supply, minted to the client) and its AMM pool against the base token, both as minimal-proxy
/// clones at addresses that depend only on the client's address (CREATE2), so they can be predicted
/// before registration and nobody can take a client's addresses.
contract ClientRegistry is IClientRegistry {
    using SafeERC20 for IERC20;

    /// @notice Highest pool fee accepted: 10 %.
    uint256 public constant MAX_FEE_BPS = 1000;

    /// @inheritdoc IClientRegistry
    address public immutable baseToken;
    /// @notice Implementation behind every client token clone.
    address public immutable tokenImpl;
    /// @notice Implementation behind every pool clone.
    address public immutable poolImpl;
    /// @notice Client tokens minted to each client at registration.
    uint256 public immutable supply;
    /// @notice Swap fee of every pool, in basis points.
    uint256 public immutable feeBps;

    /// @inheritdoc IClientRegistry
    mapping(address client => address) public tokenOf;
    /// @inheritdoc IClientRegistry
    mapping(address client => address) public poolOf;
    /// @inheritdoc IClientRegistry
    mapping(address token => address) public clientOf;
    address[] private _clients;

    /// @notice A client registered and opened its market in one transaction: `tokenAmount` of its
    /// tokens and `baseAmount` base tokens seeded its pool, for `liquidity` LP shares to the client.
    event OfferingSeeded(address indexed client, uint256 tokenAmount, uint256 baseAmount, uint256 liquidity);

    /// @notice A zero address where a contract is required.
    error ZeroAddress();
    /// @notice An implementation address holds no code.
    error NotAContract(address account);
    /// @notice The client token supply must be positive.
    error ZeroSupply();
    /// @notice The pool fee is above MAX_FEE_BPS.
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @notice The caller is already registered.
    error AlreadyRegistered(address client);
    /// @notice The token name is empty.
    error EmptyName();
    /// @notice The token symbol is empty.
    error EmptySymbol();
    /// @notice An offering needs both client tokens and base tokens.
    error EmptyOffering();
    /// @notice The offering asks for more client tokens than the supply.
    error OfferingTooLarge(uint256 tokensToPool, uint256 supply);
    /// @notice `clientAt` beyond the end of the list.
    error IndexOutOfRange(uint256 index, uint256 count);

    /// @param base The base token (stakes, rewards, AMM quotes).
    /// @param tokenImpl_ A deployed ClientToken implementation.
    /// @param poolImpl_ A deployed ClientPool implementation.
    /// @param supply_ Client tokens minted to each client at registration.
    /// @param feeBps_ Swap fee of every pool, at most MAX_FEE_BPS.
    constructor(address base, address tokenImpl_, address poolImpl_, uint256 supply_, uint256 feeBps_) {
        if (base == address(0) || tokenImpl_ == address(0) || poolImpl_ == address(0)) revert ZeroAddress();
        if (tokenImpl_.code.length == 0) revert NotAContract(tokenImpl_);
        if (poolImpl_.code.length == 0) revert NotAContract(poolImpl_);
        if (supply_ == 0) revert ZeroSupply();
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        baseToken = base;
        tokenImpl = tokenImpl_;
        poolImpl = poolImpl_;
        supply = supply_;
        feeBps = feeBps_;
    }

    /// @inheritdoc IClientRegistry
    /// @notice Register the caller: create its token (the whole supply minted to the caller) and its
    /// empty pool. Seed the pool afterwards with `addLiquidity` to open the market.
    /// @param name Token name, non-empty.
    /// @param symbol Token symbol, non-empty.
    /// @return token The client's token.
    /// @return pool The client's pool.
    function register(string calldata name, string calldata symbol) external returns (address token, address pool) {
        (token, pool) = _register(name, symbol);
        IClientToken(token).initialize(name, symbol, msg.sender, supply, baseToken);
    }

    /// @notice Register the caller and open its market at once: `tokensToPool` of its new tokens
    /// and `baseToPool` base tokens (pulled from the caller: approve this registry first) seed its
    /// pool, which sets the opening price baseToPool/tokensToPool. The LP shares and the rest of the
    /// supply go to the caller.
    /// @param name Token name, non-empty.
    /// @param symbol Token symbol, non-empty.
    /// @param tokensToPool Client tokens for the pool, at most `supply`.
    /// @param baseToPool Base tokens for the pool.
    /// @return token The client's token.
    /// @return pool The client's pool.
    /// @return liquidity LP shares minted to the caller.
    function registerWithOffering(string calldata name, string calldata symbol, uint256 tokensToPool, uint256 baseToPool)
        external
        returns (address token, address pool, uint256 liquidity)
    {
        if (tokensToPool == 0 || baseToPool == 0) revert EmptyOffering();
        if (tokensToPool > supply) revert OfferingTooLarge(tokensToPool, supply);
        (token, pool) = _register(name, symbol);
        ClientToken(token).initializeMintTo(name, symbol, msg.sender, address(this), supply, baseToken);

        IERC20 base = IERC20(baseToken);
        uint256 before = base.balanceOf(address(this));
        base.safeTransferFrom(msg.sender, address(this), baseToPool);
        uint256 baseIn = base.balanceOf(address(this)) - before;
        IERC20(token).forceApprove(pool, tokensToPool);
        base.forceApprove(pool, baseIn);
        uint256 tokenUsed;
        uint256 baseUsed;
        (tokenUsed, baseUsed, liquidity) =
            IClientPool(pool).addLiquidity(tokensToPool, baseIn, tokensToPool, baseIn, msg.sender, block.timestamp);
        emit OfferingSeeded(msg.sender, tokenUsed, baseUsed, liquidity);
        if (supply > tokensToPool) IERC20(token).safeTransfer(msg.sender, supply - tokensToPool);
    }

    /// @inheritdoc IClientRegistry
    function isRegistered(address client) public view returns (bool) {
        return tokenOf[client] != address(0);
    }

    /// @inheritdoc IClientRegistry
    function clientCount() external view returns (uint256) {
        return _clients.length;
    }

    /// @inheritdoc IClientRegistry
    /// @dev Reverts with `IndexOutOfRange` past the end; iterate off-chain with `clientCount`.
    function clientAt(uint256 index) external view returns (address) {
        if (index >= _clients.length) revert IndexOutOfRange(index, _clients.length);
        return _clients[index];
    }

    /// @notice Address the token of `client` has (or will have once it registers).
    /// @param client Any account.
    /// @return The CREATE2 address of its token clone.
    function predictToken(address client) public view returns (address) {
        return Clones.predictDeterministicAddress(tokenImpl, _salt(client));
    }

    /// @notice Address the pool of `client` has (or will have once it registers).
    /// @param client Any account.
    /// @return The CREATE2 address of its pool clone.
    function predictPool(address client) public view returns (address) {
        return Clones.predictDeterministicAddress(poolImpl, _salt(client));
    }

    /// @dev Checks, clones both contracts, initializes the pool, records the client both ways and
    /// emits; the caller initializes the token (it decides who receives the supply).
    function _register(string calldata name, string calldata symbol) private returns (address token, address pool) {
        if (isRegistered(msg.sender)) revert AlreadyRegistered(msg.sender);
        if (bytes(name).length == 0) revert EmptyName();
        if (bytes(symbol).length == 0) revert EmptySymbol();
        bytes32 salt = _salt(msg.sender);
        token = Clones.cloneDeterministic(tokenImpl, salt);
        pool = Clones.cloneDeterministic(poolImpl, salt);
        tokenOf[msg.sender] = token;
        poolOf[msg.sender] = pool;
        clientOf[token] = msg.sender;
        _clients.push(msg.sender);
        emit ClientRegistered(msg.sender, token, pool, name, symbol);
        IClientPool(pool).initialize(token, baseToken, feeBps);
    }

    function _salt(address client) private pure returns (bytes32) {
        return keccak256(abi.encode(client));
    }
}
