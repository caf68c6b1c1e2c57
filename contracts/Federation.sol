// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IClientRegistry} from "./interfaces/IClientRegistry.sol";
import {StakeVault} from "./StakeVault.sol";
import {RewardEscrow} from "./RewardEscrow.sol";

/// @title Federation
/// @notice Training tasks and their rounds. A sponsor creates a task and funds its budget in the
/// RewardEscrow; registered clients join it. Every round: the aggregator opens it, clients commit
/// the hash of their update with a stake (locked in the StakeVault), the aggregator posts the new
/// global model hash and the Merkle root of per-client results (score, reward), a challenge
/// window follows (an arbiter decides challenged posts), and the round is finalized. Each client
/// then settles its stake (paid from the escrow or partly burned, Numerai-style, clipped) and
/// claims its reward with a Merkle proof, so the aggregator's gas does not grow with the clients.
/// @dev Results leaf (OpenZeppelin StandardMerkleTree layout):
/// `keccak256(bytes.concat(keccak256(abi.encode(taskId, round, client, int256 score, uint256 reward))))`.
contract Federation is AccessControl, ReentrancyGuardTransient {
    /// @notice Role that decides challenged rounds.
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");
    /// @notice Fixed-point one (scores, payout factors and caps are WAD-scaled).
    uint256 public constant WAD = 1e18;

    /// @notice A round's phase.
    enum Phase {
        None,
        Commit,
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

    /// @notice What a sponsor fixes when it creates a task.
    /// @dev Windows and timeouts in seconds; `payoutCap` in WAD (0.05e18 = 5 % of the stake);
    /// `mode`: 0 direct, 1 buyback, 2 dividend (see RewardEscrow).
    struct TaskParams {
        bytes32 modelSpecHash;
        bytes32 validationSpecHash;
        bytes32 initialModelHash;
        address aggregator;
        uint64 commitWindow;
        uint64 challengeWindow;
        uint64 postTimeout;
        uint32 maxClients;
        uint32 numRounds;
        uint256 stakeMin;
        uint256 rewardPerRound;
        uint256 payoutThreshold;
        uint256 payoutCap;
        uint8 mode;
        string metadataURI;
    }

    struct Task {
        address sponsor;
        TaskStatus status;
        uint64 currentRound;
        uint32 participants;
        bytes32 latestModelHash;
    }

    struct Round {
        Phase phase;
        uint64 commitDeadline;
        uint64 postDeadline;
        uint64 challengeDeadline;
        bytes32 parentModelHash;
        bytes32 modelHash;
        bytes32 resultsRoot;
        uint256 totalAtRisk;
        uint256 commits;
        uint256 totalReward;
        uint256 totalPayout;
        uint256 rewardPaid;
        uint256 payoutPaid;
    }

    struct Commitment {
        bytes32 updateHash;
        uint256 stake;
        bool settled;
        bool claimed;
    }

    /// @notice The client registry (who may join).
    IClientRegistry public immutable registry;
    /// @notice Where stakes are locked, released and burned.
    StakeVault public immutable vault;
    /// @notice Where budgets are held and rewards paid from.
    RewardEscrow public immutable escrow;

    uint256 private _taskCount;
    mapping(uint256 taskId => TaskParams) private _params;
    mapping(uint256 taskId => Task) private _tasks;
    mapping(uint256 taskId => mapping(address client => bool)) private _participants;
    mapping(uint256 taskId => mapping(uint256 round => Round)) private _rounds;
    mapping(uint256 taskId => mapping(uint256 round => mapping(address client => Commitment))) private _commitments;

    /// @notice `sponsor` created task `taskId`.
    event TaskCreated(
        uint256 indexed taskId,
        address indexed sponsor,
        address indexed aggregator,
        bytes32 modelSpecHash,
        bytes32 initialModelHash,
        uint32 numRounds
    );
    /// @notice `client` joined task `taskId`, which now has `participants` participants.
    event ClientJoined(uint256 indexed taskId, address indexed client, uint256 participants);
    /// @notice Round `round` opened on `parentModelHash`; commits are accepted until `commitDeadline`.
    event RoundOpened(uint256 indexed taskId, uint256 indexed round, bytes32 parentModelHash, uint256 commitDeadline);
    /// @notice `client` committed `updateHash` with `stake` to round `round`.
    event UpdateCommitted(
        uint256 indexed taskId, uint256 indexed round, address indexed client, bytes32 updateHash, uint256 stake
    );
    /// @notice The aggregator posted round `round`'s model and results.
    event RoundPosted(
        uint256 indexed taskId,
        uint256 indexed round,
        bytes32 modelHash,
        bytes32 resultsRoot,
        uint256 totalReward,
        uint256 totalPayout
    );
    /// @notice `challenger` disputed round `round`'s post, for the reason behind `reasonHash`.
    event RoundChallenged(uint256 indexed taskId, uint256 indexed round, address indexed challenger, bytes32 reasonHash);
    /// @notice The arbiter kept (`upheld`) or overturned round `round`'s post.
    event ChallengeResolved(uint256 indexed taskId, uint256 indexed round, bool upheld);
    /// @notice Round `round` is final: `modelHash` is the task's latest model.
    event RoundFinalized(uint256 indexed taskId, uint256 indexed round, bytes32 modelHash);
    /// @notice Round `round` ended without results (no post in time, or the task was cancelled).
    event RoundAborted(uint256 indexed taskId, uint256 indexed round);
    /// @notice Every round of task `taskId` has ended.
    event TaskCompleted(uint256 indexed taskId);
    /// @notice `client` took back its `stake` from an aborted round.
    event StakeReclaimed(uint256 indexed taskId, uint256 indexed round, address indexed client, uint256 stake);
    /// @notice `client`'s stake in round `round` was settled: `payout` paid (> 0) or burned (< 0).
    event StakeSettled(
        uint256 indexed taskId, uint256 indexed round, address indexed client, int256 score, int256 payout
    );
    /// @notice `client` claimed its `reward` for round `round`.
    event RewardClaimed(uint256 indexed taskId, uint256 indexed round, address indexed client, uint256 reward);
    /// @notice The sponsor cancelled task `taskId` and got `refunded` back.
    event TaskCancelled(uint256 indexed taskId, uint256 refunded);
    /// @notice The sponsor closed completed task `taskId` and got `refunded` back.
    event TaskClosed(uint256 indexed taskId, uint256 refunded);

    /// @notice A constructor argument is the zero address.
    error ZeroAddress();
    /// @notice Task parameters are invalid; `reason` names the field.
    error InvalidParams(string reason);
    /// @notice The caller is not a registered client.
    error NotRegistered(address account);
    /// @notice The task is `current`, the call needs `expected`.
    error WrongStatus(TaskStatus current, TaskStatus expected);
    /// @notice The task has `maxClients` participants already.
    error TaskFull(uint256 maxClients);
    /// @notice `client` is a participant already.
    error AlreadyJoined(address client);
    /// @notice Only the task's aggregator may do this.
    error NotAggregator(address caller);
    /// @notice Only the task's sponsor may do this.
    error NotSponsor(address caller);
    /// @notice `account` has not joined the task.
    error NotParticipant(address account);
    /// @notice The round is in phase `current`, the call needs `expected`.
    error WrongPhase(Phase current, Phase expected);
    /// @notice All `numRounds` rounds were opened.
    error NoRoundsLeft(uint256 numRounds);
    /// @notice Commits closed at `commitDeadline`.
    error CommitClosed(uint256 commitDeadline);
    /// @notice The client committed to this round already.
    error AlreadyCommitted(address client);
    /// @notice A hash that must be set is zero.
    error EmptyHash();
    /// @notice `stake` is below the task's minimum `min`.
    error StakeTooLow(uint256 stake, uint256 min);
    /// @notice Commits are open until `commitDeadline` and not every participant has committed.
    error CommitWindowOpen(uint256 commitDeadline);
    /// @notice The post was due by `postDeadline`.
    error PostTimedOut(uint256 postDeadline);
    /// @notice `totalReward` exceeds the task's `rewardPerRound`.
    error RewardTooHigh(uint256 totalReward, uint256 rewardPerRound);
    /// @notice `totalPayout` exceeds the most the round's stakes can earn (`maxPayout`).
    error PayoutTooHigh(uint256 totalPayout, uint256 maxPayout);
    /// @notice Challenges closed at `challengeDeadline`.
    error ChallengeWindowClosed(uint256 challengeDeadline);
    /// @notice The current phase lasts until `deadline`.
    error PhaseNotOver(uint256 deadline);
    /// @notice The proof does not prove this result under the round's results root.
    error InvalidProof();
    /// @notice `client` has no commitment in this round.
    error NoCommitment(address client);
    /// @notice `client`'s stake in this round was settled (or reclaimed) already.
    error AlreadySettled(address client);
    /// @notice `client` claimed this round's reward already.
    error AlreadyClaimed(address client);
    /// @notice Claims would pay `claimed` in total, more than the `posted` total.
    error RoundOverclaimed(uint256 posted, uint256 claimed);

    /// @param registry_ The client registry.
    /// @param vault_ The stake vault (grant it FEDERATION_ROLE to this contract).
    /// @param escrow_ The reward escrow (grant it FEDERATION_ROLE to this contract).
    /// @param admin Receives DEFAULT_ADMIN_ROLE (grants ARBITER_ROLE).
    constructor(address registry_, address vault_, address escrow_, address admin) {
        if (registry_ == address(0) || vault_ == address(0) || escrow_ == address(0) || admin == address(0)) {
            revert ZeroAddress();
        }
        registry = IClientRegistry(registry_);
        vault = StakeVault(vault_);
        escrow = RewardEscrow(escrow_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------------------------------- tasks

    /// @notice Create a task; the caller is its sponsor. Fund it with `RewardEscrow.fund`.
    /// @param params The task's parameters (see TaskParams).
    /// @return taskId The new task's id (from 1).
    function createTask(TaskParams calldata params) external returns (uint256 taskId) {
        _validate(params);
        taskId = ++_taskCount;
        _params[taskId] = params;
        _tasks[taskId] = Task({
            sponsor: msg.sender,
            status: TaskStatus.Active,
            currentRound: 0,
            participants: 0,
            latestModelHash: params.initialModelHash
        });
        emit TaskCreated(
            taskId, msg.sender, params.aggregator, params.modelSpecHash, params.initialModelHash, params.numRounds
        );
    }

    /// @notice Join an active task as a participant (the caller must be a registered client).
    /// @param taskId The task.
    function joinTask(uint256 taskId) external {
        if (!registry.isRegistered(msg.sender)) revert NotRegistered(msg.sender);
        Task storage t = _tasks[taskId];
        _requireStatus(t, TaskStatus.Active);
        if (_participants[taskId][msg.sender]) revert AlreadyJoined(msg.sender);
        uint32 maxClients = _params[taskId].maxClients;
        if (t.participants >= maxClients) revert TaskFull(maxClients);
        _participants[taskId][msg.sender] = true;
        t.participants += 1;
        emit ClientJoined(taskId, msg.sender, t.participants);
    }

    /// @notice Cancel an active task: its open round (if any) is aborted, its reservation released,
    /// and the unreleased budget refunded to the sponsor. Finalized rounds stay claimable.
    /// @param taskId The task.
    function cancelTask(uint256 taskId) external nonReentrant {
        Task storage t = _tasks[taskId];
        if (msg.sender != t.sponsor) revert NotSponsor(msg.sender);
        _requireStatus(t, TaskStatus.Active);
        t.status = TaskStatus.Cancelled;
        uint256 number = t.currentRound;
        Round storage r = _rounds[taskId][number];
        if (r.phase == Phase.Commit || r.phase == Phase.Posted || r.phase == Phase.Challenged) {
            uint256 reserved = r.totalReward + r.totalPayout;
            r.phase = Phase.Aborted;
            r.totalReward = 0;
            r.totalPayout = 0;
            emit RoundAborted(taskId, number);
            if (reserved > 0) escrow.unreserve(taskId, reserved);
        }
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

    /// @notice Open the next round (aggregator only), on the task's latest model.
    /// @param taskId The task.
    /// @return round The new round's number.
    function openRound(uint256 taskId) external returns (uint256 round) {
        TaskParams storage p = _params[taskId];
        Task storage t = _tasks[taskId];
        if (msg.sender != p.aggregator) revert NotAggregator(msg.sender);
        if (t.currentRound >= p.numRounds) revert NoRoundsLeft(p.numRounds);
        _requireStatus(t, TaskStatus.Active);
        if (t.currentRound > 0) {
            Phase previous = _rounds[taskId][t.currentRound].phase;
            if (previous != Phase.Finalized && previous != Phase.Aborted) revert WrongPhase(previous, Phase.Finalized);
        }
        round = ++t.currentRound;
        Round storage r = _rounds[taskId][round];
        r.phase = Phase.Commit;
        r.parentModelHash = t.latestModelHash;
        r.commitDeadline = uint64(block.timestamp) + p.commitWindow;
        r.postDeadline = r.commitDeadline + p.postTimeout;
        emit RoundOpened(taskId, round, r.parentModelHash, r.commitDeadline);
    }

    /// @notice Commit the hash of the caller's update to the open round and lock `stake` on it.
    /// @param taskId The task.
    /// @param round The open round.
    /// @param updateHash keccak-256 of the update's canonical bytes (non-zero).
    /// @param stake Base tokens locked from the caller's free vault stake (>= the task's minimum).
    function commit(uint256 taskId, uint256 round, bytes32 updateHash, uint256 stake) external nonReentrant {
        if (!_participants[taskId][msg.sender]) revert NotParticipant(msg.sender);
        Round storage r = _rounds[taskId][round];
        if (round != _tasks[taskId].currentRound || r.phase != Phase.Commit) revert WrongPhase(r.phase, Phase.Commit);
        if (block.timestamp > r.commitDeadline) revert CommitClosed(r.commitDeadline);
        Commitment storage c = _commitments[taskId][round][msg.sender];
        if (c.updateHash != bytes32(0)) revert AlreadyCommitted(msg.sender);
        if (updateHash == bytes32(0)) revert EmptyHash();
        uint256 stakeMin = _params[taskId].stakeMin;
        if (stake < stakeMin) revert StakeTooLow(stake, stakeMin);
        c.updateHash = updateHash;
        c.stake = stake;
        r.totalAtRisk += stake;
        r.commits += 1;
        emit UpdateCommitted(taskId, round, msg.sender, updateHash, stake);
        vault.lock(msg.sender, stake);
    }

    /// @notice Post the round's new model and results (aggregator only), once commits are closed
    /// or every participant has committed, and before the post deadline. Reserves
    /// `totalReward + totalPayout` of the task's budget.
    /// @param taskId The task.
    /// @param round The round in its commit phase.
    /// @param modelHash Hash of the new global model (non-zero).
    /// @param resultsRoot Merkle root of the per-client results.
    /// @param totalReward Sum of the rewards in the results (<= rewardPerRound).
    /// @param totalPayout Sum of the positive stake payouts the results imply.
    function postRound(
        uint256 taskId,
        uint256 round,
        bytes32 modelHash,
        bytes32 resultsRoot,
        uint256 totalReward,
        uint256 totalPayout
    ) external nonReentrant {
        TaskParams storage p = _params[taskId];
        if (msg.sender != p.aggregator) revert NotAggregator(msg.sender);
        Round storage r = _rounds[taskId][round];
        if (r.phase != Phase.Commit) revert WrongPhase(r.phase, Phase.Commit);
        if (modelHash == bytes32(0)) revert EmptyHash();
        if (block.timestamp <= r.commitDeadline && r.commits < _tasks[taskId].participants) {
            revert CommitWindowOpen(r.commitDeadline);
        }
        if (block.timestamp > r.postDeadline) revert PostTimedOut(r.postDeadline);
        if (totalReward > p.rewardPerRound) revert RewardTooHigh(totalReward, p.rewardPerRound);
        uint256 maxPayout = Math.mulDiv(r.totalAtRisk, p.payoutCap, WAD);
        if (totalPayout > maxPayout) revert PayoutTooHigh(totalPayout, maxPayout);
        r.phase = Phase.Posted;
        r.modelHash = modelHash;
        r.resultsRoot = resultsRoot;
        r.totalReward = totalReward;
        r.totalPayout = totalPayout;
        r.challengeDeadline = uint64(block.timestamp) + p.challengeWindow;
        emit RoundPosted(taskId, round, modelHash, resultsRoot, totalReward, totalPayout);
        escrow.reserve(taskId, totalReward + totalPayout);
    }

    /// @notice Dispute a posted round during its challenge window (any participant of the task).
    /// The round waits for the arbiter.
    /// @param taskId The task.
    /// @param round The posted round.
    /// @param reasonHash Hash of the challenger's evidence (published off-chain).
    function challenge(uint256 taskId, uint256 round, bytes32 reasonHash) external {
        if (!_participants[taskId][msg.sender]) revert NotParticipant(msg.sender);
        Round storage r = _rounds[taskId][round];
        if (r.phase != Phase.Posted) revert WrongPhase(r.phase, Phase.Posted);
        if (block.timestamp > r.challengeDeadline) revert ChallengeWindowClosed(r.challengeDeadline);
        r.phase = Phase.Challenged;
        emit RoundChallenged(taskId, round, msg.sender, reasonHash);
    }

    /// @notice Decide a challenged round (ARBITER_ROLE). `upheld`: the post stands and the round is
    /// finalized. Otherwise the post is discarded, its reservation released, and the aggregator
    /// may post again within a fresh post timeout.
    /// @param taskId The task.
    /// @param round The challenged round.
    /// @param upheld Whether the posted results stand.
    function resolveChallenge(uint256 taskId, uint256 round, bool upheld)
        external
        onlyRole(ARBITER_ROLE)
        nonReentrant
    {
        Round storage r = _rounds[taskId][round];
        if (r.phase != Phase.Challenged) revert WrongPhase(r.phase, Phase.Challenged);
        emit ChallengeResolved(taskId, round, upheld);
        if (upheld) {
            _finalize(taskId, round, r);
            return;
        }
        uint256 reserved = r.totalReward + r.totalPayout;
        r.phase = Phase.Commit;
        r.modelHash = bytes32(0);
        r.resultsRoot = bytes32(0);
        r.totalReward = 0;
        r.totalPayout = 0;
        r.challengeDeadline = 0;
        r.postDeadline = uint64(block.timestamp) + _params[taskId].postTimeout;
        escrow.unreserve(taskId, reserved);
    }

    /// @notice Finalize a posted round after its challenge window (anyone).
    /// @param taskId The task.
    /// @param round The posted round.
    function finalizeRound(uint256 taskId, uint256 round) external {
        Round storage r = _rounds[taskId][round];
        if (r.phase != Phase.Posted) revert WrongPhase(r.phase, Phase.Posted);
        if (block.timestamp <= r.challengeDeadline) revert PhaseNotOver(r.challengeDeadline);
        _finalize(taskId, round, r);
    }

    /// @notice Abort a round whose aggregator did not post by the post deadline (anyone). Its
    /// committers reclaim their stakes with `reclaimStake`. An aborted round counts as a round.
    /// @param taskId The task.
    /// @param round The round in its commit phase.
    function abortRound(uint256 taskId, uint256 round) external {
        Round storage r = _rounds[taskId][round];
        if (r.phase != Phase.Commit) revert WrongPhase(r.phase, Phase.Commit);
        if (block.timestamp <= r.postDeadline) revert PhaseNotOver(r.postDeadline);
        r.phase = Phase.Aborted;
        emit RoundAborted(taskId, round);
        _completeIfLast(taskId, round);
    }

    // ------------------------------------------------------------------------ stakes and rewards

    /// @notice Release the caller's stake from an aborted round (or any unfinished round of a
    /// cancelled task).
    /// @param taskId The task.
    /// @param round The round.
    function reclaimStake(uint256 taskId, uint256 round) external nonReentrant {
        Round storage r = _rounds[taskId][round];
        Commitment storage c = _commitments[taskId][round][msg.sender];
        if (c.updateHash == bytes32(0)) revert NoCommitment(msg.sender);
        if (c.settled) revert AlreadySettled(msg.sender);
        bool cancelled = _tasks[taskId].status == TaskStatus.Cancelled && r.phase != Phase.Finalized;
        if (r.phase != Phase.Aborted && !cancelled) revert WrongPhase(r.phase, Phase.Aborted);
        c.settled = true;
        emit StakeReclaimed(taskId, round, msg.sender, c.stake);
        vault.unlock(msg.sender, c.stake);
    }

    /// @notice Settle `client`'s stake in a finalized round from its proven result (anyone may
    /// call: keepers make sure negative results are burned). A positive payout is paid from the
    /// escrow and the stake released; a negative one is burned from the stake.
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
        Round storage r = _provenRound(taskId, round, client, score, reward, proof);
        Commitment storage c = _commitmentOf(taskId, round, client);
        if (c.settled) revert AlreadySettled(client);
        _settleStake(taskId, round, r, c, client, score);
    }

    /// @notice Claim the caller's reward for a finalized round (settling its stake first if
    /// needed), paid in the task's mode.
    /// @param taskId The task.
    /// @param round The finalized round.
    /// @param score The caller's score in the results.
    /// @param reward The caller's reward in the results.
    /// @param proof Merkle proof of the result leaf.
    /// @param minTokensOut Buyback mode: fewest client tokens the reward must buy.
    function claimReward(
        uint256 taskId,
        uint256 round,
        int256 score,
        uint256 reward,
        bytes32[] calldata proof,
        uint256 minTokensOut
    ) external nonReentrant {
        Round storage r = _provenRound(taskId, round, msg.sender, score, reward, proof);
        _claim(taskId, round, r, score, reward, minTokensOut);
    }

    /// @notice Numerai-style stake payout: `stake * clip(score * factor, -cap, +cap)`, with
    /// `factor = min(1, threshold / totalAtRisk)`, all WAD-scaled, every division truncating
    /// toward zero. Positive: paid to the staker; negative: burned from its stake.
    /// @dev Equal to `factor = totalAtRisk <= threshold ? WAD : threshold*WAD/totalAtRisk;
    /// raw = score*int(factor)/WAD; clipped = max(-cap, min(cap, raw)); payout = int(stake)*clipped/WAD`
    /// (Solidity signed division), computed on magnitudes in 512 bits so no input overflows.
    /// The Python mirror (fl_node.settlement.payout) follows the same formula.
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
        uint256 factor = totalAtRisk <= threshold ? WAD : Math.mulDiv(threshold, WAD, totalAtRisk);
        uint256 raw = Math.mulDiv(SignedMath.abs(score), factor, WAD);
        uint256 clipped = raw < cap ? raw : cap;
        int256 payout = SafeCast.toInt256(Math.mulDiv(stake, clipped, WAD));
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

    // ------------------------------------------------------------------------------------- views

    /// @notice The parameters of `taskId`.
    /// @param taskId The task.
    function taskParams(uint256 taskId) external view returns (TaskParams memory) {
        return _params[taskId];
    }

    /// @notice The state of `taskId`.
    /// @param taskId The task.
    /// @return status TaskStatus as uint8.
    /// @return currentRound The latest opened round (0 before the first).
    /// @return latestModelHash The model of the last finalized round (initial model before).
    /// @return participants Number of clients that joined.
    function taskState(uint256 taskId)
        external
        view
        returns (uint8 status, uint256 currentRound, bytes32 latestModelHash, uint256 participants)
    {
        Task storage t = _tasks[taskId];
        return (uint8(t.status), t.currentRound, t.latestModelHash, t.participants);
    }

    /// @notice The state of round `round` of `taskId`.
    /// @param taskId The task.
    /// @param round The round.
    /// @return phase Phase as uint8.
    /// @return parentModelHash The model the round trains on.
    /// @return modelHash The posted model (0 before a post).
    /// @return resultsRoot The posted results root.
    /// @return commitDeadline Last second of commits.
    /// @return challengeDeadline Last second of challenges (0 before a post).
    /// @return totalAtRisk Sum of the committed stakes.
    /// @return commits Number of commitments.
    /// @return rewardLeft Posted rewards not claimed yet.
    /// @return payoutLeft Posted stake payouts not paid yet.
    function roundInfo(uint256 taskId, uint256 round)
        external
        view
        returns (
            uint8 phase,
            bytes32 parentModelHash,
            bytes32 modelHash,
            bytes32 resultsRoot,
            uint256 commitDeadline,
            uint256 challengeDeadline,
            uint256 totalAtRisk,
            uint256 commits,
            uint256 rewardLeft,
            uint256 payoutLeft
        )
    {
        Round storage r = _rounds[taskId][round];
        return (
            uint8(r.phase),
            r.parentModelHash,
            r.modelHash,
            r.resultsRoot,
            r.commitDeadline,
            r.challengeDeadline,
            r.totalAtRisk,
            r.commits,
            r.totalReward - r.rewardPaid,
            r.totalPayout - r.payoutPaid
        );
    }

    /// @notice The last second round `round` of `taskId` may be posted (or re-posted after an
    /// overturned challenge); after it anyone may abort the round.
    /// @param taskId The task.
    /// @param round The round.
    function postDeadlineOf(uint256 taskId, uint256 round) external view returns (uint256) {
        return _rounds[taskId][round].postDeadline;
    }

    /// @notice `client`'s commitment in round `round` of `taskId`.
    /// @param taskId The task.
    /// @param round The round.
    /// @param client The client.
    /// @return updateHash The committed hash (0: no commitment).
    /// @return stake The locked stake.
    /// @return settled Whether the stake was settled or reclaimed.
    /// @return claimed Whether the reward was claimed.
    function commitmentOf(uint256 taskId, uint256 round, address client)
        external
        view
        returns (bytes32 updateHash, uint256 stake, bool settled, bool claimed)
    {
        Commitment storage c = _commitments[taskId][round][client];
        return (c.updateHash, c.stake, c.settled, c.claimed);
    }

    /// @notice Whether `client` joined `taskId`.
    /// @param taskId The task.
    /// @param client The client.
    function isParticipant(uint256 taskId, address client) external view returns (bool) {
        return _participants[taskId][client];
    }

    /// @notice Number of tasks created (the latest task id).
    function taskCount() external view returns (uint256) {
        return _taskCount;
    }

    /// @notice The sponsor of `taskId` (zero for an unknown task).
    /// @param taskId The task.
    function sponsorOf(uint256 taskId) external view returns (address) {
        return _tasks[taskId].sponsor;
    }

    // --------------------------------------------------------------------------------- internals

    function _validate(TaskParams calldata p) private pure {
        if (p.aggregator == address(0)) revert InvalidParams("aggregator");
        if (p.numRounds < 1) revert InvalidParams("numRounds");
        if (p.maxClients < 1) revert InvalidParams("maxClients");
        if (p.commitWindow < 1) revert InvalidParams("commitWindow");
        if (p.postTimeout < 1) revert InvalidParams("postTimeout");
        if (p.payoutCap > WAD) revert InvalidParams("payoutCap");
        if (p.mode > 2) revert InvalidParams("mode");
        if (p.payoutThreshold == 0) revert InvalidParams("payoutThreshold");
    }

    function _requireStatus(Task storage t, TaskStatus expected) private view {
        if (t.status != expected) revert WrongStatus(t.status, expected);
    }

    function _finalize(uint256 taskId, uint256 round, Round storage r) private {
        r.phase = Phase.Finalized;
        _tasks[taskId].latestModelHash = r.modelHash;
        emit RoundFinalized(taskId, round, r.modelHash);
        _completeIfLast(taskId, round);
    }

    function _completeIfLast(uint256 taskId, uint256 round) private {
        Task storage t = _tasks[taskId];
        if (round == _params[taskId].numRounds && t.status == TaskStatus.Active) {
            t.status = TaskStatus.Completed;
            emit TaskCompleted(taskId);
        }
    }

    /// @dev The round, after checking it is finalized and that the result leaf is in its tree.
    function _provenRound(
        uint256 taskId,
        uint256 round,
        address client,
        int256 score,
        uint256 reward,
        bytes32[] calldata proof
    ) private view returns (Round storage r) {
        r = _rounds[taskId][round];
        if (r.phase != Phase.Finalized) revert WrongPhase(r.phase, Phase.Finalized);
        bytes32 leaf = resultLeaf(taskId, round, client, score, reward);
        if (!MerkleProof.verifyCalldata(proof, r.resultsRoot, leaf)) revert InvalidProof();
    }

    function _commitmentOf(uint256 taskId, uint256 round, address client)
        private
        view
        returns (Commitment storage c)
    {
        c = _commitments[taskId][round][client];
        if (c.updateHash == bytes32(0)) revert NoCommitment(client);
    }

    /// @dev The caller's claim of a proven result: marks it claimed, settles the stake if needed,
    /// then has the escrow pay the reward in the task's mode.
    function _claim(
        uint256 taskId,
        uint256 round,
        Round storage r,
        int256 score,
        uint256 reward,
        uint256 minTokensOut
    ) private {
        Commitment storage c = _commitmentOf(taskId, round, msg.sender);
        if (c.claimed) revert AlreadyClaimed(msg.sender);
        c.claimed = true;
        r.rewardPaid += reward;
        if (r.rewardPaid > r.totalReward) revert RoundOverclaimed(r.totalReward, r.rewardPaid);
        if (!c.settled) _settleStake(taskId, round, r, c, msg.sender, score);
        emit RewardClaimed(taskId, round, msg.sender, reward);
        escrow.payReward(taskId, msg.sender, reward, _params[taskId].mode, minTokensOut);
    }

    /// @dev Marks the stake settled, then pays (escrow) or burns (vault) its result.
    function _settleStake(
        uint256 taskId,
        uint256 round,
        Round storage r,
        Commitment storage c,
        address client,
        int256 score
    ) private {
        TaskParams storage p = _params[taskId];
        c.settled = true;
        int256 payout = stakePayout(c.stake, score, r.totalAtRisk, p.payoutThreshold, p.payoutCap);
        emit StakeSettled(taskId, round, client, score, payout);
        if (payout < 0) {
            vault.settle(client, c.stake, uint256(-payout));
            return;
        }
        uint256 amount = uint256(payout);
        if (amount > 0) {
            r.payoutPaid += amount;
            if (r.payoutPaid > r.totalPayout) revert RoundOverclaimed(r.totalPayout, r.payoutPaid);
        }
        vault.unlock(client, c.stake);
        if (amount > 0) escrow.payStakePayout(taskId, client, amount);
    }
}
