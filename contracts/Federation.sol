// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IClientRegistry} from "./interfaces/IClientRegistry.sol";
import {StakeVault} from "./StakeVault.sol";
import {RewardEscrow} from "./RewardEscrow.sol";
import {SafeBurn} from "./utils/SafeBurn.sol";

/// @title Federation
/// @notice Training tasks and their rounds. A sponsor creates a task and funds its budget in the
/// RewardEscrow; registered clients join it by locking a join bond (or by the sponsor's allowlist).
/// Every round: the aggregator (bonded) opens it; clients commit a hash binding their update to a
/// secret salt, with a stake locked in the StakeVault; once commits close, they reveal the update's
/// hash and upload the update, so nobody can copy an update before the commit window ends. The
/// aggregator posts the new global model hash and the Merkle root of per-client results (score,
/// reward), tied to the exact set of commits and reveals; a challenge window follows (a bonded
/// challenger holds the round for an arbiter, who has a deadline), and the round is finalized. Each
/// client then settles its stake (paid from the escrow or partly burned, Numerai-style, clipped)
/// and claims its reward with a Merkle proof, so the aggregator's gas does not grow with clients.
/// @dev Every stake has an exit: an aborted round returns it at once; a finalized round returns
/// it, minus at most the clipped burn of the client's own proven result, and a committer with no
/// valid leaf reclaims it after the claim window. A post that reserved too little is made up from
/// the aggregator's bond, never from other clients. Results leaf (OpenZeppelin StandardMerkleTree):
/// `keccak256(bytes.concat(keccak256(abi.encode(taskId, round, client, int256 score, uint256 reward))))`.
/// Several calls of one sender go in one transaction with OpenZeppelin's `multicall` (a client
/// claims the last round and commits to the next at once), each call checked as if alone.
contract Federation is ReentrancyGuardTransient, Multicall {
    using SafeERC20 for IERC20;

    /// @notice Fixed-point one (scores, payout caps and ratios are WAD-scaled).
    uint256 public constant WAD = 1e18;
    /// @notice Most stake one round may hold (the largest uint128): every commitment's stake fits
    /// its 128-bit field, and every payout stays exact in 256-bit arithmetic.
    uint256 public constant MAX_AT_RISK = type(uint128).max;
    /// @notice Share of a slashed aggregator bond that goes to the challenger (WAD); the rest is
    /// shared by the round's committers pro rata to their stakes.
    uint256 public constant CHALLENGER_SHARE = 0.5e18;

    /// @notice A round's phase.
    enum Phase {
        None,
        Commit,
        Reveal,
        Posted,
        Challenged,
        Finalized,
        Aborted
    }

    /// @notice A task's status.
    enum TaskStatus {
        None,
        Active,
        Completed,
        Cancelled,
        Closed
    }

    /// @notice Why a round was aborted.
    enum AbortReason {
        Empty, // no commitment by the commit deadline
        NoPost, // the aggregator did not post in time
        ChallengeUpheld, // the arbiter found the post wrong
        ArbiterTimeout, // the arbiter did not decide in time
        Cancelled // the sponsor cancelled the task before the post
    }

    /// @notice The task parameters `createTask` checks (named by `InvalidParams`).
    enum Param {
        aggregator,
        numRounds,
        maxClients,
        minClients,
        commitWindow,
        revealWindow,
        postTimeout,
        arbiterTimeout,
        claimWindow,
        payoutCap,
        griefCap,
        mode,
        payoutThreshold,
        stakeMin
    }

    /// @notice What a sponsor fixes when it creates a task.
    /// @dev Windows and timeouts in seconds; `payoutCap`, `griefRatio` and `griefCap` in WAD;
    /// `mode`: 0 direct, 1 buyback, 2 dividend (see RewardEscrow). Griefing (Erasure): the sponsor
    /// may burn up to `griefCap` of a round stake, paying `griefRatio` times the amount it burns
    /// (0: free punishment); `griefCap = 0` means no punishment at all. `challengeWindow = 0`
    /// means the task has no challenge: a post finalizes its round in the same call (the sponsor
    /// trusts the aggregator's results, as a Flower server is trusted).
    struct TaskParams {
        bytes32 modelSpecHash;
        bytes32 validationSpecHash;
        bytes32 configHash;
        bytes32 initialModelHash;
        address aggregator;
        uint64 commitWindow;
        uint64 revealWindow;
        uint64 postTimeout;
        uint64 challengeWindow;
        uint64 arbiterTimeout;
        uint64 claimWindow;
        uint32 minClients;
        uint32 maxClients;
        uint32 numRounds;
        bool allowlist;
        uint8 mode;
        uint256 stakeMin;
        uint256 joinBond;
        uint256 aggregatorBond;
        uint256 challengeBond;
        uint256 rewardPerRound;
        uint256 payoutThreshold;
        uint256 payoutCap;
        uint256 griefRatio;
        uint256 griefCap;
    }

    /// @notice A task's state.
    struct Task {
        address sponsor;
        TaskStatus status;
        uint64 currentRound;
        uint32 participants;
        uint64 bondLockedUntil; // the aggregator's bond covers claims until then
        bytes32 latestModelHash;
        uint256 bond; // the aggregator's free bond (posts set `aggregatorBond` of it aside)
    }

    /// @notice A round's state (as `roundState` returns it).
    struct Round {
        Phase phase;
        uint32 commits;
        uint32 reveals;
        uint64 commitDeadline;
        uint64 revealDeadline; // set when the reveal phase opens
        uint64 challengeDeadline; // set by the post
        uint64 challengedAt;
        uint64 endedAt; // when finalized or aborted: claim windows count from it
        bool swept;
        address challenger;
        bytes32 parentModelHash;
        bytes32 modelHash;
        bytes32 resultsRoot;
        uint256 totalAtRisk;
        uint256 totalReward;
        uint256 totalPayout;
        uint256 rewardPaid;
        uint256 payoutPaid;
        uint256 challengeBond;
        uint256 slashPool; // an upheld challenge's share for the committers
        uint256 slashPaid;
        uint256 bondAtStake; // the aggregator's bond set aside by the post until the round ends
    }

    /// @dev A round as stored (`roundState` converts it to `Round`). Laid out for the claim, the
    /// call every client makes every round: besides the results root it reads two slots (phase;
    /// then `endedAt` for its window and `totalAtRisk` for the payout) and reads and writes one
    /// (what is left of the post's reservation). Keeping what is *left* rather than what was
    /// *paid* makes that slot non-zero from the post on, so no claim pays the 20k of a first write
    /// (the post writes it instead of `rewardPaid`/`payoutPaid`'s zero). The 128-bit amounts are
    /// bounded where they are set: `totalAtRisk` by MAX_AT_RISK at commit, `totalPayout` by
    /// `totalAtRisk * payoutCap / WAD <= totalAtRisk`, `totalReward` by MAX_AT_RISK at post.
    struct RoundRecord {
        // slot 0: commit and reveal read and write only this one
        Phase phase;
        uint32 commits;
        uint32 reveals;
        uint64 commitDeadline;
        uint64 revealDeadline;
        // slot 1
        uint128 totalAtRisk;
        uint64 endedAt;
        uint64 challengeDeadline;
        // slot 2
        address challenger;
        uint64 challengedAt;
        bool swept;
        bytes32 parentModelHash;
        bytes32 modelHash;
        bytes32 resultsRoot;
        // the post's reservation, and what claims have left of it
        uint128 totalReward;
        uint128 totalPayout;
        uint128 rewardLeft;
        uint128 payoutLeft;
        uint256 challengeBond;
        uint256 slashPool;
        uint256 slashPaid;
        uint256 bondAtStake;
    }

    /// @notice A client's commitment to a round.
    struct Commitment {
        bytes32 commitHash;
        uint128 stake;
        uint128 griefed;
        bool revealed;
        bool settled;
        bool claimed;
    }

    /// @notice A client's seat in a task.
    struct Seat {
        bool active;
        uint64 joinedAfterRound; // the task's current round when it joined
        uint256 bond; // join bond locked in the vault
    }

    /// @notice The aggregator's post: the new model, the results root, the commit set it covers,
    /// and the totals the escrow reserves.
    struct Post {
        bytes32 modelHash;
        bytes32 resultsRoot;
        uint32 commits;
        uint32 reveals;
        uint256 totalReward;
        uint256 totalPayout;
    }

    /// @notice The client registry (who may join).
    IClientRegistry public immutable registry;
    /// @notice Where stakes and join bonds are locked, released and burned.
    StakeVault public immutable vault;
    /// @notice Where budgets are held and rewards paid from.
    RewardEscrow public immutable escrow;
    /// @notice The base token (bonds, stakes, rewards).
    IERC20 public immutable base;

    /// @notice Decides challenged rounds, within each task's arbiter timeout.
    address public arbiter;
    /// @notice Names the arbiter: a TimelockController, so a change is public for the timelock's
    /// delay before it takes effect. It has no other power.
    address public immutable governor;

    /// @notice Base tokens this contract holds for others: aggregator and challenge bonds, slash
    /// pools and credits.
    uint256 public totalHeld;
    /// @notice Base tokens owed to each account (bond refunds, slashes, shortfalls), pulled with
    /// `withdrawCredit`.
    mapping(address account => uint256) public credit;

    uint256 private _taskCount;
    mapping(uint256 taskId => TaskParams) private _params;
    mapping(uint256 taskId => Task) private _tasks;
    mapping(uint256 taskId => mapping(address client => Seat)) private _seats;
    mapping(uint256 taskId => mapping(address client => bool)) private _allowed;
    mapping(uint256 taskId => mapping(uint256 round => RoundRecord)) private _rounds;
    mapping(uint256 taskId => mapping(uint256 round => mapping(address client => Commitment))) private _commitments;

    /// @notice `sponsor` created task `taskId`; `metadataURI` says where its config is published.
    event TaskCreated(
        uint256 indexed taskId, address indexed sponsor, address indexed aggregator, bytes32 configHash, string metadataURI
    );
    /// @notice The sponsor allowed (or disallowed) `client` to join `taskId`.
    event AllowlistUpdated(uint256 indexed taskId, address indexed client, bool allowed);
    /// @notice `client` joined task `taskId` with a join bond of `bond`; `participants` now.
    event ClientJoined(uint256 indexed taskId, address indexed client, uint256 participants, uint256 bond);
    /// @notice `client` left task `taskId` (`removed`: for missing a round) and got its bond back.
    event ClientLeft(uint256 indexed taskId, address indexed client, uint256 participants, bool removed);
    /// @notice `payer` added `amount` to the aggregator bond of `taskId`, now `bond`.
    event AggregatorBonded(uint256 indexed taskId, address indexed payer, uint256 amount, uint256 bond);
    /// @notice The aggregator took its bond of `amount` back.
    event AggregatorBondWithdrawn(uint256 indexed taskId, address indexed to, uint256 amount);
    /// @notice Round `round` opened on `parentModelHash`; commits are accepted until `commitDeadline`.
    event RoundOpened(uint256 indexed taskId, uint256 indexed round, bytes32 parentModelHash, uint256 commitDeadline);
    /// @notice `client` committed `commitHash` (its update hash sealed with a salt) with `stake`.
    event UpdateCommitted(
        uint256 indexed taskId, uint256 indexed round, address indexed client, bytes32 commitHash, uint256 stake
    );
    /// @notice Commits of round `round` are closed; reveals are accepted until `revealDeadline`.
    event RevealOpened(uint256 indexed taskId, uint256 indexed round, uint256 revealDeadline);
    /// @notice `client` revealed the hash of its update, `updateHash` (its blob in the store).
    event UpdateRevealed(uint256 indexed taskId, uint256 indexed round, address indexed client, bytes32 updateHash);
    /// @notice The aggregator posted round `round`'s model and results.
    event RoundPosted(
        uint256 indexed taskId,
        uint256 indexed round,
        bytes32 modelHash,
        bytes32 resultsRoot,
        uint256 totalReward,
        uint256 totalPayout
    );
    /// @notice `challenger` disputed round `round`'s post with a bond of `bond`.
    event RoundChallenged(
        uint256 indexed taskId, uint256 indexed round, address indexed challenger, bytes32 reasonHash, uint256 bond
    );
    /// @notice The arbiter kept the post; the challenger's bond went to the aggregator.
    event ChallengeDismissed(uint256 indexed taskId, uint256 indexed round, address indexed challenger, uint256 bond);
    /// @notice The arbiter voided the post: `slashed` of the aggregator's bond went to the
    /// challenger (`toChallenger`, besides its bond back) and the round's committers (the rest).
    event ChallengeUpheld(
        uint256 indexed taskId, uint256 indexed round, address indexed challenger, uint256 slashed, uint256 toChallenger
    );
    /// @notice Round `round` is final: `modelHash` is the task's latest model.
    event RoundFinalized(uint256 indexed taskId, uint256 indexed round, bytes32 modelHash);
    /// @notice Round `round` ended without results; its committers reclaim their stakes.
    event RoundAborted(uint256 indexed taskId, uint256 indexed round, AbortReason reason);
    /// @notice Every round of task `taskId` has ended.
    event TaskCompleted(uint256 indexed taskId);
    /// @notice `client` took back its `stake` (and `slashShare` of an upheld challenge).
    event StakeReclaimed(
        uint256 indexed taskId, uint256 indexed round, address indexed client, uint256 stake, uint256 slashShare
    );
    /// @notice `client`'s stake in round `round` was settled: `payout` paid (> 0) or burned (< 0).
    event StakeSettled(
        uint256 indexed taskId, uint256 indexed round, address indexed client, int256 score, int256 payout
    );
    /// @notice `client` claimed its `reward` for round `round`.
    event RewardClaimed(uint256 indexed taskId, uint256 indexed round, address indexed client, uint256 reward);
    /// @notice The post reserved less than `client` is owed: `covered` of the `shortfall` was
    /// credited from the aggregator's bond.
    event ShortfallCovered(
        uint256 indexed taskId, uint256 indexed round, address indexed client, uint256 shortfall, uint256 covered
    );
    /// @notice After its claim window, round `round` returned `unclaimed` of its reservation to the
    /// budget, and `slashLeft` of a slash pool to the challenger.
    event RoundSwept(uint256 indexed taskId, uint256 indexed round, uint256 unclaimed, uint256 slashLeft);
    /// @notice The sponsor burned `amount` of `client`'s round stake, paying `cost` (also burned).
    event StakeGriefed(
        uint256 indexed taskId, uint256 indexed round, address indexed client, uint256 amount, uint256 cost
    );
    /// @notice `amount` was credited to `account` (pull it with `withdrawCredit`).
    event Credited(address indexed account, uint256 amount);
    /// @notice `account` withdrew its credit of `amount`.
    event CreditWithdrawn(address indexed account, uint256 amount);
    /// @notice The governor named `arbiter` (replacing `previous`).
    event ArbiterChanged(address indexed previous, address indexed arbiter);
    /// @notice The sponsor cancelled task `taskId` and got `refunded` back.
    event TaskCancelled(uint256 indexed taskId, uint256 refunded);
    /// @notice The sponsor closed completed task `taskId` and got `refunded` back.
    event TaskClosed(uint256 indexed taskId, uint256 refunded);

    /// @notice A constructor argument is the zero address.
    error ZeroAddress();
    /// @notice Only the arbiter may do this.
    error NotArbiter(address caller);
    /// @notice Only the governor may do this.
    error NotGovernor(address caller);
    /// @notice The vault, escrow and registry do not share one base token.
    error BaseMismatch();
    /// @notice Task parameter `field` is invalid.
    error InvalidParams(Param field);
    /// @notice The caller is not a registered client.
    error NotRegistered(address account);
    /// @notice The task is `current`, the call needs `expected`.
    error WrongStatus(TaskStatus current, TaskStatus expected);
    /// @notice The task has `maxClients` participants already.
    error TaskFull(uint256 maxClients);
    /// @notice `client` is a participant already.
    error AlreadyJoined(address client);
    /// @notice The task admits only clients its sponsor allowed.
    error NotAllowed(address client);
    /// @notice Only the task's aggregator may do this.
    error NotAggregator(address caller);
    /// @notice Only the task's sponsor may do this.
    error NotSponsor(address caller);
    /// @notice `account` is not a participant of the task.
    error NotParticipant(address account);
    /// @notice `client` committed to the last ended round, joined after it opened, or holds a
    /// commitment to the round whose commits are still open.
    error StillActive(address client);
    /// @notice The round is in phase `current`, the call needs `expected`.
    error WrongPhase(Phase current, Phase expected);
    /// @notice All `numRounds` rounds were opened.
    error NoRoundsLeft(uint256 numRounds);
    /// @notice The first round needs `minClients` participants; `participants` joined.
    error NotEnoughClients(uint256 participants, uint256 minClients);
    /// @notice The aggregator's bond is `bond`, the task requires `required`.
    error BondTooLow(uint256 bond, uint256 required);
    /// @notice A round is in flight (or its claims may still draw on the bond) until `until`.
    error BondLocked(uint256 until);
    /// @notice Commits closed at `commitDeadline`.
    error CommitClosed(uint256 commitDeadline);
    /// @notice The client committed to this round already.
    error AlreadyCommitted(address client);
    /// @notice A hash that must be set is zero.
    error EmptyHash();
    /// @notice `stake` is below the task's minimum `min`.
    error StakeTooLow(uint256 stake, uint256 min);
    /// @notice The round would hold more than MAX_AT_RISK.
    error StakeTooHigh(uint256 totalAtRisk);
    /// @notice Commits are open until `commitDeadline` and not every participant has committed.
    error CommitWindowOpen(uint256 commitDeadline);
    /// @notice Reveals closed at `revealDeadline`.
    error RevealClosed(uint256 revealDeadline);
    /// @notice The client revealed already.
    error AlreadyRevealed(address client);
    /// @notice The revealed hash and salt do not open the client's commitment.
    error RevealMismatch();
    /// @notice Reveals are open until `revealDeadline` and not every committer has revealed.
    error RevealWindowOpen(uint256 revealDeadline);
    /// @notice The post covers `commits`/`reveals`; the round has `actualCommits`/`actualReveals`.
    error CommitSetChanged(uint256 commits, uint256 reveals, uint256 actualCommits, uint256 actualReveals);
    /// @notice The round has no commitment to post results for (abort it instead).
    error NothingToPost();
    /// @notice The post was due by `postDeadline`.
    error PostTimedOut(uint256 postDeadline);
    /// @notice `totalReward` exceeds the task's `rewardPerRound`.
    error RewardTooHigh(uint256 totalReward, uint256 rewardPerRound);
    /// @notice `totalPayout` exceeds the most the round's stakes can earn (`maxPayout`).
    error PayoutTooHigh(uint256 totalPayout, uint256 maxPayout);
    /// @notice Challenges closed at `challengeDeadline`.
    error ChallengeWindowClosed(uint256 challengeDeadline);
    /// @notice With no challenge bond, only a committer of the round may challenge.
    error NoStanding(address account);
    /// @notice The arbiter's time to decide ended at `deadline`.
    error ArbiterTimedOut(uint256 deadline);
    /// @notice The current phase lasts until `deadline`.
    error PhaseNotOver(uint256 deadline);
    /// @notice Claims of this round closed at `deadline`.
    error ClaimWindowClosed(uint256 deadline);
    /// @notice Claims of this round are open until `deadline`.
    error ClaimWindowOpen(uint256 deadline);
    /// @notice The proof does not prove this result under the round's results root.
    error InvalidProof();
    /// @notice `client` has no commitment in this round.
    error NoCommitment(address client);
    /// @notice `client`'s stake in this round was settled (or reclaimed) already.
    error AlreadySettled(address client);
    /// @notice `client` claimed this round's reward already.
    error AlreadyClaimed(address client);
    /// @notice The round was swept already.
    error AlreadySwept();
    /// @notice The task allows no griefing, or `amount` exceeds what is left of the cap (`left`).
    error GriefNotAllowed(uint256 amount, uint256 left);
    /// @notice An amount that must be positive is zero, or nothing arrived.
    error ZeroAmount();

    /// @param registry_ The client registry.
    /// @param vault_ The stake vault (bind it to this contract afterwards).
    /// @param escrow_ The reward escrow (bind it to this contract afterwards).
    /// @param governor_ Names the arbiter: a TimelockController, so every change is public for its
    /// delay before it takes effect.
    /// @param arbiter_ The first arbiter.
    constructor(address registry_, address vault_, address escrow_, address governor_, address arbiter_) {
        if (
            registry_ == address(0) || vault_ == address(0) || escrow_ == address(0) || governor_ == address(0)
                || arbiter_ == address(0)
        ) revert ZeroAddress();
        registry = IClientRegistry(registry_);
        vault = StakeVault(vault_);
        escrow = RewardEscrow(escrow_);
        base = vault.base();
        if (address(escrow.base()) != address(base) || registry.baseToken() != address(base)) revert BaseMismatch();
        governor = governor_;
        arbiter = arbiter_;
        emit ArbiterChanged(address(0), arbiter_);
    }

    /// @notice Name a new arbiter (governor only, through its timelock).
    /// @param arbiter_ The new arbiter.
    function setArbiter(address arbiter_) external {
        if (msg.sender != governor) revert NotGovernor(msg.sender);
        if (arbiter_ == address(0)) revert ZeroAddress();
        emit ArbiterChanged(arbiter, arbiter_);
        arbiter = arbiter_;
    }

    modifier onlyArbiter() {
        if (msg.sender != arbiter) revert NotArbiter(msg.sender);
        _;
    }

    // ------------------------------------------------------------------------------------- tasks

    /// @notice Create a task; the caller is its sponsor. Fund it with `RewardEscrow.fund`.
    /// @param params The task's parameters (see TaskParams).
    /// @param metadataURI Where the task's config is published (logged, not stored).
    /// @return taskId The new task's id (from 1).
    function createTask(TaskParams calldata params, string calldata metadataURI) external returns (uint256 taskId) {
        _validate(params);
        taskId = ++_taskCount;
        _params[taskId] = params;
        Task storage t = _tasks[taskId];
        t.sponsor = msg.sender;
        t.status = TaskStatus.Active;
        t.latestModelHash = params.initialModelHash;
        emit TaskCreated(taskId, msg.sender, params.aggregator, params.configHash, metadataURI);
    }

    /// @notice Allow or disallow clients to join an allowlist task (sponsor only). Already seated
    /// clients keep their seats.
    /// @param taskId The task.
    /// @param clients The clients (the caller bounds the list).
    /// @param allowed Whether they may join.
    function setAllowed(uint256 taskId, address[] calldata clients, bool allowed) external {
        if (msg.sender != _tasks[taskId].sponsor) revert NotSponsor(msg.sender);
        for (uint256 i = 0; i < clients.length; ++i) {
            _allowed[taskId][clients[i]] = allowed;
            emit AllowlistUpdated(taskId, clients[i], allowed);
        }
    }

    /// @notice Join an active task as a participant (the caller must be a registered client, and
    /// allowed when the task has an allowlist). Locks the task's join bond from the caller's free
    /// vault stake until it leaves, so seats cannot be squatted for free.
    /// @param taskId The task.
    function joinTask(uint256 taskId) external {
        if (!registry.isRegistered(msg.sender)) revert NotRegistered(msg.sender);
        Task storage t = _tasks[taskId];
        _requireStatus(t, TaskStatus.Active);
        TaskParams storage p = _params[taskId];
        Seat storage seat = _seats[taskId][msg.sender];
        if (seat.active) revert AlreadyJoined(msg.sender);
        if (p.allowlist && !_allowed[taskId][msg.sender]) revert NotAllowed(msg.sender);
        if (t.participants >= p.maxClients) revert TaskFull(p.maxClients);
        uint256 bond = p.joinBond;
        seat.active = true;
        seat.joinedAfterRound = t.currentRound;
        seat.bond = bond;
        t.participants += 1;
        emit ClientJoined(taskId, msg.sender, t.participants, bond);
        vault.lock(msg.sender, bond);
    }

    /// @notice Leave a task and get the join bond back (any time but while the caller's commitment
    /// to the open round is still in its commit phase; commitments are settled as usual).
    /// @param taskId The task.
    function leaveTask(uint256 taskId) external {
        _leave(taskId, msg.sender, false);
    }

    /// @notice Free the seat of a participant that committed nothing to the task's last ended
    /// round although it had joined before that round opened (anyone). Its join bond is returned;
    /// the seat stops holding back early closes of the commit window.
    /// @param taskId The task.
    /// @param client The idle participant.
    function removeIdle(uint256 taskId, address client) external {
        uint256 current = _tasks[taskId].currentRound;
        if (current == 0) revert StillActive(client);
        Phase phase = _rounds[taskId][current].phase;
        // The last round that has ended: the current one once it is over, else the one before.
        uint256 last = (phase == Phase.Finalized || phase == Phase.Aborted) ? current : current - 1;
        Seat storage seat = _seats[taskId][client];
        if (!seat.active) revert NotParticipant(client);
        if (last == 0 || seat.joinedAfterRound >= last || _commitments[taskId][last][client].commitHash != 0) {
            revert StillActive(client);
        }
        _leave(taskId, client, true);
    }

    /// @notice Add `amount` of the caller's base tokens to the task's aggregator bond (usually the
    /// aggregator itself). Rounds open only while the bond is at least the task's requirement; an
    /// upheld challenge slashes it, and claims a post under-reserved draw on it.
    /// @param taskId The task.
    /// @param amount Base tokens to bond.
    function bondAggregator(uint256 taskId, uint256 amount) external nonReentrant {
        Task storage t = _tasks[taskId];
        _requireStatus(t, TaskStatus.Active);
        uint256 received = _pull(msg.sender, amount);
        t.bond += received;
        emit AggregatorBonded(taskId, msg.sender, received, t.bond);
    }

    /// @notice Take the aggregator's bond back (aggregator only) while no round is in flight and no
    /// finalized round's claims can still draw on it. Opening another round needs a new bond.
    /// @param taskId The task.
    /// @return amount Base tokens paid.
    function withdrawAggregatorBond(uint256 taskId) external nonReentrant returns (uint256 amount) {
        TaskParams storage p = _params[taskId];
        if (msg.sender != p.aggregator) revert NotAggregator(msg.sender);
        Task storage t = _tasks[taskId];
        Phase phase = _rounds[taskId][t.currentRound].phase;
        if (t.currentRound > 0 && phase != Phase.Finalized && phase != Phase.Aborted) {
            revert WrongPhase(phase, Phase.Finalized);
        }
        if (block.timestamp <= t.bondLockedUntil) revert BondLocked(t.bondLockedUntil);
        amount = t.bond;
        if (amount == 0) revert ZeroAmount();
        t.bond = 0;
        totalHeld -= amount;
        emit AggregatorBondWithdrawn(taskId, msg.sender, amount);
        base.safeTransfer(msg.sender, amount);
    }

    /// @notice Cancel an active task (sponsor only): a round still taking commits or reveals is
    /// aborted (its stakes return), a posted or challenged round runs to its end as usual, and the
    /// unreleased budget is refunded to the sponsor.
    /// @param taskId The task.
    function cancelTask(uint256 taskId) external nonReentrant {
        Task storage t = _tasks[taskId];
        if (msg.sender != t.sponsor) revert NotSponsor(msg.sender);
        _requireStatus(t, TaskStatus.Active);
        t.status = TaskStatus.Cancelled;
        uint256 number = t.currentRound;
        RoundRecord storage r = _rounds[taskId][number];
        if (r.phase == Phase.Commit || r.phase == Phase.Reveal) _abort(taskId, number, r, AbortReason.Cancelled);
        uint256 refunded = escrow.refund(taskId, t.sponsor);
        emit TaskCancelled(taskId, refunded);
    }

    /// @notice Close a completed task and refund its unreleased budget to the sponsor.
    /// @param taskId The task.
    function closeTask(uint256 taskId) external nonReentrant {
        Task storage t = _tasks[taskId];
        if (msg.sender != t.sponsor) revert NotSponsor(msg.sender);
        _requireStatus(t, TaskStatus.Completed);
        t.status = TaskStatus.Closed;
        uint256 refunded = escrow.refund(taskId, t.sponsor);
        emit TaskClosed(taskId, refunded);
    }

    // ------------------------------------------------------------------------------------ rounds

    /// @notice Open the next round (aggregator only), on the task's latest model. The first round
    /// needs `minClients` participants; every round needs the aggregator's bond in place.
    /// @param taskId The task.
    /// @return round The new round's number.
    function openRound(uint256 taskId) external returns (uint256 round) {
        TaskParams storage p = _params[taskId];
        Task storage t = _tasks[taskId];
        if (msg.sender != p.aggregator) revert NotAggregator(msg.sender);
        _requireStatus(t, TaskStatus.Active);
        if (t.currentRound >= p.numRounds) revert NoRoundsLeft(p.numRounds);
        if (t.currentRound == 0) {
            if (t.participants < p.minClients) revert NotEnoughClients(t.participants, p.minClients);
        } else {
            Phase previous = _rounds[taskId][t.currentRound].phase;
            if (previous != Phase.Finalized && previous != Phase.Aborted) revert WrongPhase(previous, Phase.Finalized);
        }
        if (t.bond < p.aggregatorBond) revert BondTooLow(t.bond, p.aggregatorBond);
        round = ++t.currentRound;
        RoundRecord storage r = _rounds[taskId][round];
        r.phase = Phase.Commit;
        r.parentModelHash = t.latestModelHash;
        r.commitDeadline = uint64(block.timestamp) + p.commitWindow;
        emit RoundOpened(taskId, round, r.parentModelHash, r.commitDeadline);
    }

    /// @notice Commit to the open round: `commitHash = commitmentHash(taskId, round, caller,
    /// updateHash, salt)` hides the update until the reveal, and `stake` is locked on it.
    /// @param taskId The task.
    /// @param round The open round.
    /// @param commitHash The sealed commitment (non-zero).
    /// @param stake Base tokens locked from the caller's free vault stake (>= the task's minimum).
    function commit(uint256 taskId, uint256 round, bytes32 commitHash, uint256 stake) external nonReentrant {
        if (!_seats[taskId][msg.sender].active) revert NotParticipant(msg.sender);
        RoundRecord storage r = _rounds[taskId][round];
        if (round != _tasks[taskId].currentRound || r.phase != Phase.Commit) revert WrongPhase(r.phase, Phase.Commit);
        if (block.timestamp > r.commitDeadline) revert CommitClosed(r.commitDeadline);
        Commitment storage c = _commitments[taskId][round][msg.sender];
        if (c.commitHash != bytes32(0)) revert AlreadyCommitted(msg.sender);
        if (commitHash == bytes32(0)) revert EmptyHash();
        uint256 stakeMin = _params[taskId].stakeMin;
        if (stake < stakeMin) revert StakeTooLow(stake, stakeMin);
        uint256 total = r.totalAtRisk + stake;
        if (total > MAX_AT_RISK) revert StakeTooHigh(total);
        c.commitHash = commitHash;
        c.stake = uint128(stake); // stake <= total <= MAX_AT_RISK = type(uint128).max
        r.totalAtRisk = uint128(total); // <= MAX_AT_RISK = type(uint128).max
        r.commits += 1;
        emit UpdateCommitted(taskId, round, msg.sender, commitHash, stake);
        vault.lock(msg.sender, stake);
    }

    /// @notice Reveal the caller's update hash and salt. Reveals open when the commit window ends,
    /// or as soon as every participant has committed; the first reveal closes commits for good.
    /// Upload the update blob to the store before (or with) the reveal.
    /// @param taskId The task.
    /// @param round The round.
    /// @param updateHash keccak-256 of the update's canonical bytes.
    /// @param salt The secret the commitment was sealed with.
    function reveal(uint256 taskId, uint256 round, bytes32 updateHash, bytes32 salt) external {
        RoundRecord storage r = _rounds[taskId][round];
        Commitment storage c = _commitments[taskId][round][msg.sender];
        if (c.commitHash == bytes32(0)) revert NoCommitment(msg.sender);
        if (r.phase == Phase.Commit) {
            if (block.timestamp <= r.commitDeadline && r.commits < _tasks[taskId].participants) {
                revert CommitWindowOpen(r.commitDeadline);
            }
            uint64 start = block.timestamp < r.commitDeadline ? uint64(block.timestamp) : r.commitDeadline;
            r.revealDeadline = start + _params[taskId].revealWindow;
            r.phase = Phase.Reveal;
            emit RevealOpened(taskId, round, r.revealDeadline);
        } else if (r.phase != Phase.Reveal) {
            revert WrongPhase(r.phase, Phase.Reveal);
        }
        if (block.timestamp > r.revealDeadline) revert RevealClosed(r.revealDeadline);
        if (c.revealed) revert AlreadyRevealed(msg.sender);
        if (updateHash == bytes32(0)) revert EmptyHash();
        if (commitmentHash(taskId, round, msg.sender, updateHash, salt) != c.commitHash) revert RevealMismatch();
        c.revealed = true;
        r.reveals += 1;
        emit UpdateRevealed(taskId, round, msg.sender, updateHash);
    }

    /// @notice Post the round's new model and results (aggregator only): once every committer has
    /// revealed, or the reveal window has ended, and before the post deadline. The post names the
    /// commit and reveal counts it was computed from, so a commitment it did not see makes it
    /// revert instead of going without a result. Reserves `totalReward + totalPayout`, and sets
    /// `aggregatorBond` of the aggregator's bond aside for this round until it ends, so a void post
    /// is always slashed in full (claims of earlier rounds cannot draw on it). A task without a
    /// challenge window (`challengeWindow = 0`) finalizes the round here: claims open at once.
    /// @param taskId The task.
    /// @param round The round.
    /// @param post The model, results root, counts and totals (see Post).
    function postRound(uint256 taskId, uint256 round, Post calldata post) external nonReentrant {
        TaskParams storage p = _params[taskId];
        if (msg.sender != p.aggregator) revert NotAggregator(msg.sender);
        RoundRecord storage r = _rounds[taskId][round];
        if (r.phase != Phase.Commit && r.phase != Phase.Reveal) revert WrongPhase(r.phase, Phase.Reveal);
        if (post.modelHash == bytes32(0) || post.resultsRoot == bytes32(0)) revert EmptyHash();
        if (r.commits == 0) revert NothingToPost();
        if (post.commits != r.commits || post.reveals != r.reveals) {
            revert CommitSetChanged(post.commits, post.reveals, r.commits, r.reveals);
        }
        uint256 revealEnd = _revealEnd(r, p);
        bool allRevealed = r.phase == Phase.Reveal && r.reveals == r.commits;
        if (!allRevealed && block.timestamp <= revealEnd) revert RevealWindowOpen(revealEnd);
        if (block.timestamp > revealEnd + p.postTimeout) revert PostTimedOut(revealEnd + p.postTimeout);
        // A round's reward is also capped at MAX_AT_RISK (2**128 - 1 wei, beyond any budget of a real
        // token), so the reservation packs into 128-bit fields (see RoundRecord).
        uint256 maxReward = p.rewardPerRound < MAX_AT_RISK ? p.rewardPerRound : MAX_AT_RISK;
        if (post.totalReward > maxReward) revert RewardTooHigh(post.totalReward, maxReward);
        uint256 maxPayout = Math.mulDiv(r.totalAtRisk, p.payoutCap, WAD);
        if (post.totalPayout > maxPayout) revert PayoutTooHigh(post.totalPayout, maxPayout);
        Task storage t = _tasks[taskId];
        if (t.bond < p.aggregatorBond) revert BondTooLow(t.bond, p.aggregatorBond);
        t.bond -= p.aggregatorBond; // at stake for this post until the round ends
        r.bondAtStake = p.aggregatorBond;
        r.phase = Phase.Posted;
        r.modelHash = post.modelHash;
        r.resultsRoot = post.resultsRoot;
        // Both fit 128 bits: totalReward <= MAX_AT_RISK (above), totalPayout <= totalAtRisk.
        (r.totalReward, r.totalPayout) = (uint128(post.totalReward), uint128(post.totalPayout));
        (r.rewardLeft, r.payoutLeft) = (uint128(post.totalReward), uint128(post.totalPayout));
        r.challengeDeadline = uint64(block.timestamp) + p.challengeWindow;
        emit RoundPosted(taskId, round, post.modelHash, post.resultsRoot, post.totalReward, post.totalPayout);
        if (p.challengeWindow == 0) _finalize(taskId, round, r);
        escrow.reserve(taskId, post.totalReward + post.totalPayout);
    }

    /// @notice Dispute a posted round during its challenge window, with the task's challenge bond
    /// (approve this contract first). Anyone may challenge with a bond; when the task sets none,
    /// only a committer of the round may. The round waits for the arbiter.
    /// @param taskId The task.
    /// @param round The posted round.
    /// @param reasonHash Hash of the challenger's evidence (published off-chain).
    function challenge(uint256 taskId, uint256 round, bytes32 reasonHash) external nonReentrant {
        RoundRecord storage r = _rounds[taskId][round];
        if (r.phase != Phase.Posted) revert WrongPhase(r.phase, Phase.Posted);
        if (block.timestamp > r.challengeDeadline) revert ChallengeWindowClosed(r.challengeDeadline);
        uint256 required = _params[taskId].challengeBond;
        uint256 bond = 0;
        if (required == 0) {
            if (_commitments[taskId][round][msg.sender].commitHash == bytes32(0)) revert NoStanding(msg.sender);
        } else {
            bond = _pull(msg.sender, required); // what arrived: a fee-on-transfer token takes its cut
        }
        r.phase = Phase.Challenged;
        r.challenger = msg.sender;
        r.challengeBond = bond;
        r.challengedAt = uint64(block.timestamp);
        emit RoundChallenged(taskId, round, msg.sender, reasonHash, bond);
    }

    /// @notice The arbiter keeps a challenged post: the round is finalized and the challenger's
    /// bond is credited to the aggregator.
    /// @param taskId The task.
    /// @param round The challenged round.
    function dismissChallenge(uint256 taskId, uint256 round) external onlyArbiter nonReentrant {
        RoundRecord storage r = _challengedRound(taskId, round);
        uint256 bond = r.challengeBond;
        r.challengeBond = 0;
        emit ChallengeDismissed(taskId, round, r.challenger, bond);
        _credit(_params[taskId].aggregator, bond);
        _finalize(taskId, round, r);
    }

    /// @notice The arbiter voids a challenged post: the round is aborted (every committer reclaims
    /// its stake), its reservation returns to the budget, and the bond the post set aside is
    /// slashed: the challenger gets its bond back plus CHALLENGER_SHARE of it, the committers the
    /// rest.
    /// @param taskId The task.
    /// @param round The challenged round.
    function upholdChallenge(uint256 taskId, uint256 round) external onlyArbiter nonReentrant {
        RoundRecord storage r = _challengedRound(taskId, round);
        uint256 slashed = r.bondAtStake;
        r.bondAtStake = 0;
        uint256 toChallenger = Math.mulDiv(slashed, CHALLENGER_SHARE, WAD);
        r.slashPool = slashed - toChallenger;
        uint256 bond = r.challengeBond;
        r.challengeBond = 0;
        emit ChallengeUpheld(taskId, round, r.challenger, slashed, toChallenger);
        _credit(r.challenger, bond + toChallenger);
        _abort(taskId, round, r, AbortReason.ChallengeUpheld);
    }

    /// @notice Finalize a posted round after its challenge window (anyone).
    /// @param taskId The task.
    /// @param round The posted round.
    function finalizeRound(uint256 taskId, uint256 round) external {
        RoundRecord storage r = _rounds[taskId][round];
        if (r.phase != Phase.Posted) revert WrongPhase(r.phase, Phase.Posted);
        if (block.timestamp <= r.challengeDeadline) revert PhaseNotOver(r.challengeDeadline);
        _finalize(taskId, round, r);
    }

    /// @notice Abort a round that cannot end otherwise (anyone): no commitment by the commit
    /// deadline; no post by the post deadline; or a challenge the arbiter left undecided past its
    /// timeout (the challenger's bond is returned). Committers reclaim their stakes with
    /// `reclaimStake`. An aborted round counts as a round.
    /// @param taskId The task.
    /// @param round The round.
    function abortRound(uint256 taskId, uint256 round) external nonReentrant {
        RoundRecord storage r = _rounds[taskId][round];
        TaskParams storage p = _params[taskId];
        AbortReason reason;
        if (r.phase == Phase.Commit && r.commits == 0) {
            if (block.timestamp <= r.commitDeadline) revert PhaseNotOver(r.commitDeadline);
            reason = AbortReason.Empty;
        } else if (r.phase == Phase.Commit || r.phase == Phase.Reveal) {
            uint256 deadline = _revealEnd(r, p) + p.postTimeout;
            if (block.timestamp <= deadline) revert PhaseNotOver(deadline);
            reason = AbortReason.NoPost;
        } else if (r.phase == Phase.Challenged) {
            uint256 deadline = uint256(r.challengedAt) + p.arbiterTimeout;
            if (block.timestamp <= deadline) revert PhaseNotOver(deadline);
            uint256 bond = r.challengeBond;
            r.challengeBond = 0;
            _credit(r.challenger, bond);
            reason = AbortReason.ArbiterTimeout;
        } else {
            revert WrongPhase(r.phase, Phase.Commit);
        }
        _abort(taskId, round, r, reason);
    }

    // ------------------------------------------------------------------------ stakes and rewards

    /// @notice Take back the caller's stake: from an aborted round at once (with its share of an
    /// upheld challenge's slash), or from a finalized round whose claim window has ended without the
    /// stake being settled (a committer the results left out, or with an unprovable leaf).
    /// @param taskId The task.
    /// @param round The round.
    function reclaimStake(uint256 taskId, uint256 round) external nonReentrant {
        RoundRecord storage r = _rounds[taskId][round];
        Commitment storage c = _commitments[taskId][round][msg.sender];
        if (c.commitHash == bytes32(0)) revert NoCommitment(msg.sender);
        if (c.settled) revert AlreadySettled(msg.sender);
        uint256 share = 0;
        if (r.phase == Phase.Finalized) {
            uint256 closes = _claimDeadline(taskId, r);
            if (block.timestamp <= closes) revert ClaimWindowOpen(closes);
        } else if (r.phase == Phase.Aborted) {
            if (r.slashPool > 0 && !r.swept) {
                share = Math.mulDiv(r.slashPool, c.stake, r.totalAtRisk);
                r.slashPaid += share;
            }
        } else {
            revert WrongPhase(r.phase, Phase.Aborted);
        }
        c.settled = true;
        uint256 principal = c.stake - c.griefed;
        emit StakeReclaimed(taskId, round, msg.sender, principal, share);
        vault.unlock(msg.sender, principal);
        if (share > 0) {
            totalHeld -= share;
            base.safeTransfer(msg.sender, share);
        }
    }

    /// @notice Settle `client`'s stake in a finalized round from its proven result, within the
    /// claim window (anyone may call: keepers make sure negative results are burned). A positive
    /// payout is paid from the escrow (any shortfall of the post's reservation from the
    /// aggregator's bond) and the stake released; a negative one is burned from the stake.
    /// @param taskId The task.
    /// @param round The finalized round.
    /// @param client The committer.
    /// @param score Its WAD-scaled score in the results.
    /// @param reward Its reward in the results.
    /// @param proof Merkle proof of the result leaf.
    function settleStake(
        uint256 taskId,
        uint256 round,
        address client,
        int256 score,
        uint256 reward,
        bytes32[] calldata proof
    ) external nonReentrant {
        RoundRecord storage r = _provenRound(taskId, round, client, score, reward, proof);
        Commitment storage c = _commitmentOf(taskId, round, client);
        if (c.settled) revert AlreadySettled(client);
        uint256 payout = _settleStake(taskId, round, r, c, client, score);
        if (payout > 0) escrow.payStakePayout(taskId, client, payout);
    }

    /// @notice Claim the caller's reward for a finalized round within its claim window (settling
    /// its stake first if needed), paid in the task's mode.
    /// @param taskId The task.
    /// @param round The finalized round.
    /// @param score The caller's score in the results.
    /// @param reward The caller's reward in the results.
    /// @param proof Merkle proof of the result leaf.
    /// @param minTokensOut Buyback mode: fewest client tokens the reward must buy.
    /// @param deadline Buyback mode: latest block timestamp of the swap.
    function claimReward(
        uint256 taskId,
        uint256 round,
        int256 score,
        uint256 reward,
        bytes32[] calldata proof,
        uint256 minTokensOut,
        uint256 deadline
    ) external nonReentrant {
        RoundRecord storage r = _provenRound(taskId, round, msg.sender, score, reward, proof);
        Commitment storage c = _commitmentOf(taskId, round, msg.sender);
        if (c.claimed) revert AlreadyClaimed(msg.sender);
        c.claimed = true;
        emit RewardClaimed(taskId, round, msg.sender, reward);
        uint256 fromEscrow = _fromReservation(taskId, round, r, msg.sender, reward, true);
        // the stake last: its vault call follows every write of the claim
        uint256 payout = c.settled ? 0 : _settleStake(taskId, round, r, c, msg.sender, score);
        if (payout + fromEscrow > 0) {
            escrow.payClaim(
                taskId, msg.sender, payout, fromEscrow, _params[taskId].mode, minTokensOut, deadline
            );
        }
    }

    /// @notice After a round's claim window (anyone): return what its claims left of the
    /// reservation to the task's budget (refunded to the sponsor at once if the task has ended),
    /// and what committers left of an upheld challenge's slash pool to the challenger.
    /// @param taskId The task.
    /// @param round The finalized or aborted round.
    function sweepRound(uint256 taskId, uint256 round) external nonReentrant {
        RoundRecord storage r = _rounds[taskId][round];
        if (r.phase != Phase.Finalized && r.phase != Phase.Aborted) revert WrongPhase(r.phase, Phase.Finalized);
        if (r.swept) revert AlreadySwept();
        uint256 closes = _claimDeadline(taskId, r);
        if (block.timestamp <= closes) revert ClaimWindowOpen(closes);
        r.swept = true;
        uint256 unclaimed = uint256(r.rewardLeft) + r.payoutLeft;
        uint256 slashLeft = r.slashPool - r.slashPaid;
        emit RoundSwept(taskId, round, unclaimed, slashLeft);
        if (slashLeft > 0) {
            r.slashPaid = r.slashPool;
            _credit(r.challenger, slashLeft);
        }
        if (unclaimed > 0) {
            (r.rewardLeft, r.payoutLeft) = (0, 0);
            escrow.unreserve(taskId, unclaimed);
            Task storage t = _tasks[taskId];
            if (t.status != TaskStatus.Active) escrow.refund(taskId, t.sponsor);
        }
    }

    /// @notice Erasure griefing (sponsor only, if the task allows it): burn `amount` of `client`'s
    /// unsettled stake in `round`, paying `amount * griefRatio` (also burned; approve this contract
    /// first). At most `griefCap` of the stake can be burned this way.
    /// @param taskId The task.
    /// @param round The round.
    /// @param client The committer.
    /// @param amount Stake to burn.
    /// @return cost Base tokens the sponsor paid (and burned).
    function griefStake(uint256 taskId, uint256 round, address client, uint256 amount)
        external
        nonReentrant
        returns (uint256 cost)
    {
        if (msg.sender != _tasks[taskId].sponsor) revert NotSponsor(msg.sender);
        if (amount == 0) revert ZeroAmount();
        TaskParams storage p = _params[taskId];
        RoundRecord storage r = _rounds[taskId][round];
        if (r.phase == Phase.Aborted || r.phase == Phase.None) revert WrongPhase(r.phase, Phase.Commit);
        Commitment storage c = _commitmentOf(taskId, round, client);
        if (c.settled) revert AlreadySettled(client);
        uint256 cap = Math.mulDiv(c.stake, p.griefCap, WAD);
        uint256 left = cap > c.griefed ? cap - c.griefed : 0;
        if (amount > left) revert GriefNotAllowed(amount, left);
        cost = Math.mulDiv(amount, p.griefRatio, WAD, Math.Rounding.Ceil);
        c.griefed += uint128(amount); // amount <= stake < 2**128
        emit StakeGriefed(taskId, round, client, amount, cost);
        if (cost > 0) {
            uint256 received = _pull(msg.sender, cost);
            totalHeld -= received; // pulled for burning, not held for anyone
            SafeBurn.burnOrBury(base, received);
        }
        vault.settle(client, amount, amount);
    }

    /// @notice Pay the caller its credit (bond refunds, slashes, shortfalls covered by a bond).
    /// @return amount Base tokens paid.
    function withdrawCredit() external nonReentrant returns (uint256 amount) {
        amount = credit[msg.sender];
        if (amount == 0) revert ZeroAmount();
        credit[msg.sender] = 0;
        totalHeld -= amount;
        emit CreditWithdrawn(msg.sender, amount);
        base.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------------------ pure math

    /// @notice Numerai-style stake payout: `stake * clip(score * factor, -cap, +cap)` with
    /// `factor = min(1, threshold / totalAtRisk)`, computed as one exact rational rounded toward
    /// zero once (within one wei of the exact value). Positive: paid to the staker; negative:
    /// burned from its stake. The Python mirror (fl_node.settlement.payout) is equal to the wei.
    /// @dev Exact for `totalAtRisk <= MAX_AT_RISK` (commits enforce it) and `cap <= WAD`; reverts
    /// (arithmetic overflow) where an intermediate product would not fit 256 bits.
    /// @param stake The committed stake.
    /// @param score The WAD-scaled score.
    /// @param totalAtRisk The round's total committed stake.
    /// @param threshold The task's payout threshold.
    /// @param cap The task's payout cap (WAD).
    /// @return The signed payout in base-token wei.
    function stakePayout(uint256 stake, int256 score, uint256 totalAtRisk, uint256 threshold, uint256 cap)
        public
        pure
        returns (int256)
    {
        uint256 a = SignedMath.abs(score);
        uint256 magnitude;
        if (totalAtRisk <= threshold) {
            magnitude = Math.mulDiv(stake, a < cap ? a : cap, WAD);
        } else {
            // Clipped when a * threshold / totalAtRisk >= cap, compared exactly in 512 bits.
            (uint256 hi, uint256 lo) = Math.mul512(a, threshold);
            uint256 limit = cap * totalAtRisk; // <= WAD * MAX_AT_RISK < 2**256
            if (hi > 0 || lo >= limit) {
                magnitude = Math.mulDiv(stake, cap, WAD);
            } else {
                magnitude = Math.mulDiv(stake, lo, totalAtRisk * WAD);
            }
        }
        int256 payout = SafeCast.toInt256(magnitude);
        return score < 0 ? -payout : payout;
    }

    /// @notice The result leaf of `client` in a round's results tree.
    /// @param taskId The task.
    /// @param round The round.
    /// @param client The client.
    /// @param score Its WAD-scaled score.
    /// @param reward Its reward.
    /// @return The leaf hash.
    function resultLeaf(uint256 taskId, uint256 round, address client, int256 score, uint256 reward)
        public
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(taskId, round, client, score, reward))));
    }

    /// @notice The commitment `client` sends to hide `updateHash` until the reveal.
    /// @param taskId The task.
    /// @param round The round.
    /// @param client The committer (binds the commitment to it: copying it is useless).
    /// @param updateHash keccak-256 of the update blob.
    /// @param salt A secret of the client's.
    /// @return The commitment hash.
    function commitmentHash(uint256 taskId, uint256 round, address client, bytes32 updateHash, bytes32 salt)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(taskId, round, client, updateHash, salt));
    }

    // ------------------------------------------------------------------------------------- views

    /// @notice The parameters of `taskId`.
    /// @param taskId The task.
    function taskParams(uint256 taskId) external view returns (TaskParams memory) {
        return _params[taskId];
    }

    /// @notice The state of `taskId`.
    /// @param taskId The task.
    function taskState(uint256 taskId) external view returns (Task memory) {
        return _tasks[taskId];
    }

    /// @notice The state of round `round` of `taskId`.
    /// @param taskId The task.
    /// @param round The round.
    function roundState(uint256 taskId, uint256 round) external view returns (Round memory) {
        RoundRecord storage r = _rounds[taskId][round];
        return Round({
            phase: r.phase,
            commits: r.commits,
            reveals: r.reveals,
            commitDeadline: r.commitDeadline,
            revealDeadline: r.revealDeadline,
            challengeDeadline: r.challengeDeadline,
            challengedAt: r.challengedAt,
            endedAt: r.endedAt,
            swept: r.swept,
            challenger: r.challenger,
            parentModelHash: r.parentModelHash,
            modelHash: r.modelHash,
            resultsRoot: r.resultsRoot,
            totalAtRisk: r.totalAtRisk,
            totalReward: r.totalReward,
            totalPayout: r.totalPayout,
            rewardPaid: r.totalReward - r.rewardLeft,
            payoutPaid: r.totalPayout - r.payoutLeft,
            challengeBond: r.challengeBond,
            slashPool: r.slashPool,
            slashPaid: r.slashPaid,
            bondAtStake: r.bondAtStake
        });
    }

    /// @notice `client`'s commitment in round `round` of `taskId`.
    /// @param taskId The task.
    /// @param round The round.
    /// @param client The client.
    function commitmentOf(uint256 taskId, uint256 round, address client) external view returns (Commitment memory) {
        return _commitments[taskId][round][client];
    }

    /// @notice `client`'s seat in `taskId`.
    /// @param taskId The task.
    /// @param client The client.
    function seatOf(uint256 taskId, address client) external view returns (Seat memory) {
        return _seats[taskId][client];
    }

    /// @notice Whether the sponsor allowed `client` to join `taskId` (allowlist tasks).
    /// @param taskId The task.
    /// @param client The client.
    function isAllowed(uint256 taskId, address client) external view returns (bool) {
        return _allowed[taskId][client];
    }

    /// @notice Number of tasks created (the latest task id).
    function taskCount() external view returns (uint256) {
        return _taskCount;
    }

    // --------------------------------------------------------------------------------- internals

    function _validate(TaskParams calldata p) private pure {
        if (p.aggregator == address(0)) revert InvalidParams(Param.aggregator);
        if (p.numRounds < 1) revert InvalidParams(Param.numRounds);
        if (p.maxClients < 1) revert InvalidParams(Param.maxClients);
        if (p.minClients > p.maxClients) revert InvalidParams(Param.minClients);
        if (p.commitWindow < 1) revert InvalidParams(Param.commitWindow);
        if (p.revealWindow < 1) revert InvalidParams(Param.revealWindow);
        if (p.postTimeout < 1) revert InvalidParams(Param.postTimeout);
        if (p.arbiterTimeout < 1) revert InvalidParams(Param.arbiterTimeout);
        if (p.claimWindow < 1) revert InvalidParams(Param.claimWindow);
        if (p.payoutCap > WAD) revert InvalidParams(Param.payoutCap);
        if (p.griefCap > WAD) revert InvalidParams(Param.griefCap);
        if (p.mode > 2) revert InvalidParams(Param.mode);
        if (p.payoutThreshold == 0) revert InvalidParams(Param.payoutThreshold);
        if (p.stakeMin > MAX_AT_RISK) revert InvalidParams(Param.stakeMin);
    }

    function _requireStatus(Task storage t, TaskStatus expected) private view {
        if (t.status != expected) revert WrongStatus(t.status, expected);
    }

    function _leave(uint256 taskId, address client, bool removed) private {
        Seat storage seat = _seats[taskId][client];
        if (!seat.active) revert NotParticipant(client);
        Task storage t = _tasks[taskId];
        // A committer keeps its seat while commits are open: its commitment counts toward the
        // participants who have committed, which would otherwise close the window on the others.
        uint256 current = t.currentRound;
        if (
            _rounds[taskId][current].phase == Phase.Commit
                && _commitments[taskId][current][client].commitHash != bytes32(0)
        ) revert StillActive(client);
        uint256 bond = seat.bond;
        seat.active = false;
        seat.bond = 0;
        t.participants -= 1;
        emit ClientLeft(taskId, client, t.participants, removed);
        vault.unlock(client, bond);
    }

    /// @dev Pull `amount` base tokens from `from`; returns what arrived (held by this contract).
    function _pull(address from, uint256 amount) private returns (uint256 received) {
        if (amount == 0) revert ZeroAmount();
        uint256 before = base.balanceOf(address(this));
        base.safeTransferFrom(from, address(this), amount);
        received = base.balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
        totalHeld += received;
    }

    /// @dev Credit `amount` already counted in `totalHeld` to `account`.
    function _credit(address account, uint256 amount) private {
        if (amount == 0) return;
        credit[account] += amount;
        emit Credited(account, amount);
    }

    function _revealEnd(RoundRecord storage r, TaskParams storage p) private view returns (uint256) {
        return r.phase == Phase.Commit ? uint256(r.commitDeadline) + p.revealWindow : r.revealDeadline;
    }

    function _claimDeadline(uint256 taskId, RoundRecord storage r) private view returns (uint256) {
        return uint256(r.endedAt) + _params[taskId].claimWindow;
    }

    function _challengedRound(uint256 taskId, uint256 round) private view returns (RoundRecord storage r) {
        r = _rounds[taskId][round];
        if (r.phase != Phase.Challenged) revert WrongPhase(r.phase, Phase.Challenged);
        uint256 deadline = uint256(r.challengedAt) + _params[taskId].arbiterTimeout;
        if (block.timestamp > deadline) revert ArbiterTimedOut(deadline);
    }

    function _finalize(uint256 taskId, uint256 round, RoundRecord storage r) private {
        r.phase = Phase.Finalized;
        r.endedAt = uint64(block.timestamp);
        Task storage t = _tasks[taskId];
        _releaseBond(t, r);
        t.latestModelHash = r.modelHash;
        uint64 until = r.endedAt + _params[taskId].claimWindow;
        if (until > t.bondLockedUntil) t.bondLockedUntil = until;
        emit RoundFinalized(taskId, round, r.modelHash);
        _completeIfLast(taskId, round);
    }

    /// @dev Ends a round without results; a reservation it held goes back to the budget (and to
    /// the sponsor at once when the task has ended: a cancelled task's budget takes no more rounds).
    function _abort(uint256 taskId, uint256 round, RoundRecord storage r, AbortReason reason) private {
        uint256 reserved = uint256(r.totalReward) + r.totalPayout; // nothing is claimed before finalization
        r.phase = Phase.Aborted;
        r.endedAt = uint64(block.timestamp);
        (r.totalReward, r.totalPayout) = (0, 0);
        (r.rewardLeft, r.payoutLeft) = (0, 0);
        Task storage t = _tasks[taskId];
        _releaseBond(t, r); // nothing left after an upheld challenge: it was slashed
        emit RoundAborted(taskId, round, reason);
        _completeIfLast(taskId, round);
        if (reserved > 0) {
            escrow.unreserve(taskId, reserved);
            if (t.status != TaskStatus.Active) escrow.refund(taskId, t.sponsor);
        }
    }

    /// @dev The bond a post set aside goes back to the aggregator's bond once its round ends.
    function _releaseBond(Task storage t, RoundRecord storage r) private {
        uint256 amount = r.bondAtStake;
        if (amount == 0) return;
        r.bondAtStake = 0;
        t.bond += amount;
    }

    function _completeIfLast(uint256 taskId, uint256 round) private {
        Task storage t = _tasks[taskId];
        if (round == _params[taskId].numRounds && t.status == TaskStatus.Active) {
            t.status = TaskStatus.Completed;
            emit TaskCompleted(taskId);
        }
    }

    /// @dev The round, after checking it is finalized, its claim window is open, and the result
    /// leaf is in its tree.
    function _provenRound(
        uint256 taskId,
        uint256 round,
        address client,
        int256 score,
        uint256 reward,
        bytes32[] calldata proof
    ) private view returns (RoundRecord storage r) {
        r = _rounds[taskId][round];
        if (r.phase != Phase.Finalized) revert WrongPhase(r.phase, Phase.Finalized);
        uint256 closes = _claimDeadline(taskId, r);
        if (block.timestamp > closes) revert ClaimWindowClosed(closes);
        bytes32 leaf = resultLeaf(taskId, round, client, score, reward);
        if (!MerkleProof.verifyCalldata(proof, r.resultsRoot, leaf)) revert InvalidProof();
    }

    function _commitmentOf(uint256 taskId, uint256 round, address client)
        private
        view
        returns (Commitment storage c)
    {
        c = _commitments[taskId][round][client];
        if (c.commitHash == bytes32(0)) revert NoCommitment(client);
    }

    /// @dev Takes `amount` from the round's reservation, as far as it goes, and returns what it
    /// took; what the reservation lacks is credited to `client` from the aggregator's bond.
    function _fromReservation(
        uint256 taskId,
        uint256 round,
        RoundRecord storage r,
        address client,
        uint256 amount,
        bool isReward
    ) private returns (uint256 taken) {
        uint256 left = isReward ? r.rewardLeft : r.payoutLeft;
        taken = amount < left ? amount : left;
        // taken <= left < 2**128
        if (isReward) r.rewardLeft = uint128(left - taken);
        else r.payoutLeft = uint128(left - taken);
        if (amount > taken) _coverShortfall(taskId, round, client, amount - taken);
    }

    /// @dev What a post under-reserved is credited to `client` from the aggregator's bond.
    function _coverShortfall(uint256 taskId, uint256 round, address client, uint256 shortfall) private {
        Task storage t = _tasks[taskId];
        uint256 covered = shortfall < t.bond ? shortfall : t.bond;
        t.bond -= covered;
        emit ShortfallCovered(taskId, round, client, shortfall, covered);
        _credit(client, covered);
    }

    /// @dev Marks the stake settled and unlocks it, or burns (vault) its negative result; a stake
    /// reduced by griefing burns at most what is left of it. Of a positive result, what the
    /// aggregator's post under-reserved is credited from its bond, and the rest is returned for
    /// the caller to pay from the escrow (with the reward, in a claim).
    /// @return payout What the escrow owes `client` of the result.
    function _settleStake(
        uint256 taskId,
        uint256 round,
        RoundRecord storage r,
        Commitment storage c,
        address client,
        int256 score
    ) private returns (uint256 payout) {
        TaskParams storage p = _params[taskId];
        c.settled = true;
        uint256 locked = c.stake - c.griefed;
        int256 result = stakePayout(c.stake, score, r.totalAtRisk, p.payoutThreshold, p.payoutCap);
        emit StakeSettled(taskId, round, client, score, result);
        if (result < 0) {
            uint256 burn = uint256(-result);
            vault.settle(client, locked, burn < locked ? burn : locked);
            return 0;
        }
        uint256 amount = uint256(result);
        payout = _fromReservation(taskId, round, r, client, amount, false);
        vault.unlock(client, locked);
    }
}
