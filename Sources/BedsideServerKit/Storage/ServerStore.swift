import BedsideCore

/// The server's storage, behind which SQLite (the embedded default) or PostgreSQL can sit.
///
/// Work is given as a closure that runs inside one transaction: everything a request changes, its audit
/// line included, commits together or not at all. Routes and services see only these protocols.
public protocol ServerStore: Sendable {
    func read<T: Sendable>(_ work: @escaping @Sendable (any StoreReading) throws -> T) async throws -> T
    func write<T: Sendable>(_ work: @escaping @Sendable (any StoreWriting) throws -> T) async throws -> T
    /// Reads and writes may no longer be made; begins closing (for a command that ends at once).
    func close() throws
    /// Closes the store and waits until the work under way and its connections have ended (a server
    /// that stops: on PostgreSQL the scheduled jobs' locks pass to another instance at once).
    func shutdown() async throws
    /// The keys the data is sealed with; also for what the server keeps in files (export files).
    var keys: StoreKeys { get }
    /// Makes data deleted so far leave the database's files now, as far as the database can (an
    /// erasure); what became of it.
    @discardableResult
    func removeDeletedData() async throws -> DeletedDataRemoval
    /// Whether this instance is the one to run `job` now. One process on SQLite always is; on
    /// PostgreSQL exactly one instance holds each job while its connection to the database lives, and
    /// false is the answer whenever that cannot be known (the database away).
    func leads(_ job: ScheduledJob) async -> Bool
}

/// What can be read inside a transaction.
public protocol StoreReading {
    func account(email: String) throws -> Account?
    func account(id: String) throws -> Account?
    func account(patientID: String) throws -> Account?
    func accounts() throws -> [Account]
    func throttle(key: String) throws -> LoginThrottle?
    func challenge(id: String) throws -> LoginChallenge?
    func session(tokenHash: String) throws -> SessionRecord?
    /// Patient ids in the care teams of a clinician account.
    func teamPatientIDs(clinicianAccountID: String) throws -> [String]
    /// The ids of the clinician accounts whose Practitioner is one of these.
    func clinicianAccountIDs(practitionerIDs: [String]) throws -> [String]
    /// Clinician account ids caring for a patient.
    func clinicianIDs(patientID: String) throws -> [String]
    /// The Practitioner resources of the clinicians on a patient's care team.
    func teamPractitionerIDs(patientID: String) throws -> [String]
    func resource(type: String, id: String) throws -> StoredResource?
    func resource(type: String, id: String, version: Int) throws -> StoredResource?
    /// The resource of `type` that carries `identifier` in `patientID`'s compartment (nil: outside any).
    func resourceID(type: String, identifier: ResourceCode, patientID: String?) throws -> String?
    /// A hint that `resourceID` is about to be asked for each of these (a Bundle's conditional
    /// creates): a backend across a network may answer them all in one query now (sending what it
    /// kept of the transaction first). Every answer stays exactly what `resourceID` would say.
    func expectLookups(type: String, _ lookups: [(identifier: ResourceCode, patientID: String?)]) throws
    func search(_ query: ResourceQuery) throws -> ResourcePage
    /// The distinct patients of the resources that match (paging and order ignored).
    func patientIDs(matching query: ResourceQuery) throws -> Set<String>
    /// How many resources match, in all (paging ignored): `Bundle.total`.
    func total(matching query: ResourceQuery) throws -> Int
    func count(type: String) throws -> Int
    func enrolment(accountID: String) throws -> EnrolmentRecord?
    func backendClient(id: String) throws -> BackendClient?
    func backendClients() throws -> [BackendClient]
    func clientToken(tokenHash: String) throws -> ClientToken?
    /// Resources matching `query` (its filters only) as they were at `updatedBy` (a resource changed
    /// since comes in its newest version at or before it; one made since not at all), last changed after
    /// `updatedAfter` (when given), with a key above `afterKey`, in key order: at most `limit` rows
    /// looked at and about `byteBudget` bytes, so an export walks a type in pages that each read briefly
    /// and fit in memory, whatever its size.
    func exportPage(_ query: ResourceQuery, updatedAfter: Int64?, updatedBy: Int64, afterKey: Int64, limit: Int, byteBudget: Int) throws
        -> ExportPage
    func exportJob(id: String) throws -> ExportJobRecord?
    /// A client's jobs that hold or will hold files at `time`: waiting, running, or complete and not expired.
    func heldExportJobs(clientID: String, at time: Int64) throws -> [ExportJobRecord]
    /// The oldest job waiting for the worker.
    func nextExportJob() throws -> ExportJobRecord?
    /// Jobs whose files are due for deletion at `time`, and jobs cancelled.
    func exportJobsToDelete(at time: Int64) throws -> [ExportJobRecord]
    /// Audit events in the order they were written, after the given sequence number.
    func auditEvents(after sequence: Int64, limit: Int) throws -> [(sequence: Int64, event: AuditEvent)]
    /// Audit records with their chain links, in order, after the given sequence number.
    func auditLinks(after sequence: Int64, limit: Int) throws -> [AuditChain.Link]
    /// Stored resource versions after `sequence`, oldest first (the Subscriptions' change feed).
    func changes(after sequence: Int64, limit: Int) throws -> [ResourceChange]
    /// The newest change's sequence number (0 when none): where a new Subscription starts.
    func lastChangeSequence() throws -> Int64
    func subscriptionState(id: String) throws -> SubscriptionState?
    func subscriptionStates() throws -> [SubscriptionState]
    /// When the patient's care ended, if it has.
    func careEnd(patientID: String) throws -> CareEnd?
    /// Patients whose care ended before `time`, longest ago first.
    func careEnds(endedBefore time: Int64) throws -> [CareEnd]
    /// How many resources of the patient's compartment there are, their versions and newest change.
    func patientDataSummary(patientID: String) throws -> PatientDataSummary
    /// The earlier versions of the patient's resources of `type`, after (`id`, `version`) in that order:
    /// at most `limit`, opened. Their key to continue after is the last one's.
    func patientHistory(patientID: String, type: String, after: (id: String, version: Int)?, limit: Int) throws
        -> [(id: String, version: Int, json: [UInt8])]
    /// Audit events with one of `actions` (and of actors in `actorRole`, when given) written from `start`
    /// until before `end`, in order.
    func auditEvents(from start: Int64, until end: Int64, actions: [String], actorRole: String?) throws -> [AuditEvent]
    /// For each actor of `role` who did one of `actions` successfully between the times: how many
    /// different patients, for those with at least `minimum`.
    func patientsSeen(byRole role: String, actions: [String], from start: Int64, until end: Int64, atLeast minimum: Int) throws -> [String: Int]
    /// For each clock hour in which the clinician did one of `actions` between the times: how many patients.
    func hourlyPatientCounts(actorID: String, actions: [String], from start: Int64, until end: Int64) throws -> [Int]
    /// Whether the backend client did one of `actions` on `resourceType` (nil: none) successfully before `time`.
    func hasAuditEvent(actorID: String, actions: [String], resourceType: String?, before time: Int64) throws -> Bool
    func securityAlerts(raisedSince time: Int64) throws -> [SecurityAlert]
    /// The administrators' copies of the alerts raised since `time`.
    func alertMails(raisedSince time: Int64) throws -> [AlertMail]
    /// The hour up to which (excluded) the unusual-activity rules have looked at the whole trail.
    func watchedUntilHour() throws -> Int64?
}

/// What can be changed inside a transaction.
public protocol StoreWriting: StoreReading {
    func insert(_ account: Account) throws
    func updatePasswordHash(accountID: String, passwordHash: String) throws
    func save(_ throttle: LoginThrottle) throws
    func deleteThrottle(key: String) throws
    /// Forgets `key`'s budget uses dated outside `kept`, then counts the rest: how many, and the oldest.
    func budgetUses(key: String, keeping kept: ClosedRange<Int64>) throws -> (count: Int, oldest: Int64?)
    /// Records one use of `key`'s budget.
    func recordBudgetUse(key: String, at time: Int64) throws
    func insert(_ challenge: LoginChallenge) throws
    func update(_ challenge: LoginChallenge) throws
    func deleteChallenge(id: String) throws
    func insert(_ session: SessionRecord) throws
    func touchSession(tokenHash: String, at time: Int64) throws
    func revokeSession(tokenHash: String, at time: Int64) throws
    func revokeSessions(accountID: String, at time: Int64) throws
    func addTeamMember(clinicianAccountID: String, patientID: String) throws
    func removeTeamMember(clinicianAccountID: String, patientID: String) throws
    /// nil enables the account again.
    func setDisabled(accountID: String, at time: Int64?) throws
    /// Stores a new version (or the first) of a resource and keeps the previous one in history.
    func put(_ resource: StoredResource) throws
    /// Stores a resource whose id this server has just made (version 1, never stored): the backend may
    /// send it later in the transaction together with others, but every later read in the transaction
    /// sees it. The transaction fails if the id is taken.
    func create(_ resource: StoredResource) throws
    func append(_ events: [AuditEvent]) throws
    /// Stores an account's enrolment code, replacing any earlier one.
    func save(_ enrolment: EnrolmentRecord) throws
    func deleteEnrolment(accountID: String) throws
    func insert(_ client: BackendClient) throws
    /// nil enables the client again; disabling also ends its tokens.
    func setClientDisabled(id: String, at time: Int64?) throws
    func insert(_ token: ClientToken) throws
    /// Records a client assertion's `jti` until it expires; false when it was seen before (a replay).
    func recordAssertion(clientID: String, jti: String, expiresAt: Int64) throws -> Bool
    func insert(_ job: ExportJobRecord) throws
    func update(_ job: ExportJobRecord) throws
    func deleteExportJob(id: String) throws
    /// Jobs left running by a server that stopped go back to waiting (their files are written anew);
    /// the jobs as they were, each with the run that had it.
    func requeueRunningExportJobs() throws -> [ExportJobRecord]
    /// Creates or replaces a Subscription's delivery state.
    func save(_ state: SubscriptionState) throws
    /// Drops the change feed up to and including `sequence` (every Subscription has seen it).
    /// At most `limit` of them, the oldest first; how many went.
    func deleteChanges(through sequence: Int64, limit: Int) throws -> Int
    /// Removes expired challenges and sessions long past their absolute lifetime.
    func purgeExpired(before time: Int64) throws
    func save(_ careEnd: CareEnd) throws
    func deleteCareEnd(patientID: String) throws
    /// Deletes everything of a patient: the resources of their compartment with every earlier version,
    /// their entries in the change feed and in every index, their care team rows, their care end, and
    /// their account (sessions, login codes, enrolment). The audit trail is left as it is.
    func erasePatient(patientID: String) throws -> ErasureCounts
    /// Stores a new alert and returns it (with its id); one already raised for the same rule and subject
    /// in the same hour or the one next to it is brought up to date instead, and nil returned.
    func save(_ alert: SecurityAlert) throws -> SecurityAlert?
    func setWatchedUntilHour(_ hour: Int64) throws
    func markMailed(alertID: Int64, at time: Int64) throws
    func saveAlertMail(alertID: Int64, accountID: String, attemptedAt: Int64, mailedAt: Int64?) throws
}

/// What became of deleted rows' bytes after `removeDeletedData`.
public enum DeletedDataRemoval: Sendable, Equatable {
    /// Gone from every file of the database (SQLite: overwritten in place, its log emptied).
    case removed
    /// Not yet: the database was busy (readers kept SQLite's log from being emptied, or PostgreSQL did
    /// not answer); they leave at its next checkpoint or VACUUM.
    case later
    /// Their space is free for reuse (PostgreSQL's VACUUM) and is overwritten as the tables grow; until
    /// then the bytes stay in the table files and the write-ahead log, sealed (bodies, names, e-mail
    /// addresses) or pseudonymous.
    case spaceReusable

    /// What an operator is told after an erasure (empty when nothing is left to say).
    public var sentence: String {
        switch self {
        case .removed: ""
        case .later: "The deleted rows leave the database's files at its next checkpoint or VACUUM (it was busy)."
        case .spaceReusable:
            "PostgreSQL has freed their space for reuse (VACUUM); until it is overwritten, their bytes stay in its files, sealed."
        }
    }
}

extension StoreWriting {
    /// Spends one use of `key`'s budget at `now` when it has room (nil); otherwise spends nothing and
    /// says in how many seconds it will. Kept in the database, so that instances sharing it share the
    /// budget. Uses that left the window are forgotten here, and so are any dated more than a window
    /// ahead (a clock that was wrong and was put right): they would refuse the key until real time
    /// caught up.
    func useBudget(key: String, limit: RateLimit, now: Int64) throws -> Int? {
        guard limit.isEnabled else { return nil }
        let window = limit.storedWindowMilliseconds
        let uses = try budgetUses(key: key, keeping: (now - window + 1)...(now + window))
        guard uses.count >= limit.requests else {
            try recordBudgetUse(key: key, at: now)
            return nil
        }
        return RateLimit.retryAfterSeconds(oldestUse: uses.oldest ?? now, now: now, window: window)
    }
}
