import BedsideCore
import Foundation
import Logging
import Synchronization

/// Who is making a request, once their bearer token has been checked.
public struct Principal: Sendable, Equatable {
    public var accountID: String
    public var role: Role
    public var patientID: String?
    public var practitionerID: String?
    /// For clinicians: the patients of their care teams.
    public var teamPatientIDs: Set<String>
    public var tokenHash: String
    /// For patients: the Practitioners of their own care team, the only ones they may see.
    public var careTeamPractitionerIDs: Set<String> = []
    /// The account's name, as a note it writes is signed.
    public var displayName: String = ""
    /// Set when a backend client (SMART Backend Services) is calling, not a person: it acts within its
    /// granted scopes only, and its `role` is `.admin`, which by itself may touch no patient data.
    public var client: BackendClientGrant? = nil

    /// What the audit names as the actor's role: `system` for a backend client.
    public var auditRole: String { client == nil ? role.rawValue : "system" }
}

/// A backend client's token, as it authenticated: who it is and the scopes it was granted.
public struct BackendClientGrant: Sendable, Equatable {
    public var clientID: String
    public var name: String
    public var scopes: SMARTScopes
}

/// The rules of DESIGN.md's login: password, then an e-mailed code; throttling; sessions.
public struct AuthPolicy: Sendable {
    public var maximumFailures = 5
    public var lockDuration: Int64 = 15 * 60_000
    public var codeLifetime: Int64 = 10 * 60_000
    public var codeAttempts = 3
    public var idleTimeout: Int64 = 30 * 60_000
    public var absoluteTimeout: Int64 = 12 * 3_600_000
    /// A session's last-seen time is written at most this often, so reads do not each cost a disk write.
    public var touchInterval: Int64 = 60_000
    /// Failed logins are forgotten after this long without another; a lock is not shortened by it.
    public var failureDecay: Int64 = 15 * 60_000
    /// How long a try stays held by a password check that never reported back (milliseconds); checks
    /// take well under a second, queued ones a few.
    public var checkHold: Int64 = 60_000
    /// Password checks at once, and waiting; beyond that a login is answered 503 with Retry-After. Half
    /// the cores at most, so a burst of logins leaves the other half to everyone else's requests.
    public var passwordCheckWorkers = max(1, ProcessInfo.processInfo.activeProcessorCount / 2)
    public var passwordCheckQueue = 16
    /// Password checks per client address and per login name (an account or an invented one).
    public var loginsPerAddress = RateLimit(requests: 30, windowSeconds: 60)
    public var loginsPerAccount = RateLimit(requests: 10, windowSeconds: 60)

    public init() {}
}

/// Hashes of tokens that authenticated, held in memory for the rate limiter: a request with a token
/// not in here (invented, or not yet seen since start) is budgeted by its address, so inventing tokens
/// buys no fresh budgets. Bounded: when full it starts again, and real sessions are re-learnt on their
/// next request.
final class KnownSessions: Sendable {
    static let capacity = 100_000
    private let hashes = Mutex<Set<String>>([])

    func insert(_ tokenHash: String) {
        hashes.withLock { hashes in
            if hashes.count >= Self.capacity { hashes.removeAll(keepingCapacity: true) }
            hashes.insert(tokenHash)
        }
    }

    func contains(_ tokenHash: String) -> Bool { hashes.withLock { $0.contains(tokenHash) } }
}

/// Login, one-time codes, sessions and logout.
public struct AuthService: Sendable {
    public let store: any ServerStore
    public let clock: any WallClock
    public let mailer: any Mailer
    public let hasher: PasswordHasher
    public let policy: AuthPolicy
    let logger: Logger
    let passwordChecks: BoundedWorkPool
    /// Tokens seen to be valid, so the rate limiter can tell a session from an invented token without a read.
    let knownSessions = KnownSessions()

    public init(
        store: any ServerStore, clock: any WallClock, mailer: any Mailer, hasher: PasswordHasher, policy: AuthPolicy,
        logger: Logger
    ) {
        self.store = store
        self.clock = clock
        self.mailer = mailer
        self.hasher = hasher
        self.policy = policy
        self.logger = logger
        passwordChecks = BoundedWorkPool(label: "password-checks", workers: policy.passwordCheckWorkers, queueLimit: policy.passwordCheckQueue)
    }

    public static func normalizedEmail(_ email: String) -> String {
        email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    // MARK: Password step

    public struct ChallengeIssued: Sendable {
        public var challengeID: String
        public var expiresIn: Int
    }

    /// Checks the password. On success a code is e-mailed and a challenge returned.
    ///
    /// Unknown names and wrong passwords take the same path and the same time (a full scrypt either way)
    /// and both count towards the same lock, so neither answer nor timing says whether an account exists.
    /// The attempt is counted before the hash is computed, in the same write that checks the lock, so a
    /// burst of parallel guesses gets no more than `maximumFailures` passwords checked.
    public func login(username: String, password: String, remoteAddress: String?, request: String, acceptLanguage: String? = nil) async throws(ServerError)
        -> ChallengeIssued
    {
        let email = Self.normalizedEmail(username)
        let now = clock.now()
        let throttleKey = "login:" + Secrets.sha256Hex(email)
        let policy = self.policy
        enum Reservation: Sendable { case reserved(Account?), locked(Int, Account?), held(Account?), overBudget(Int) }
        let reservation: Reservation
        do {
            reservation = try await store.write { db in
                if let wait = try Self.spendLoginBudgets(throttleKey: throttleKey, remoteAddress: remoteAddress, policy: policy, now: now, db: db) {
                    return .overBudget(wait)
                }
                let account = try db.account(email: email)
                var throttle = try Self.throttle(throttleKey, db: db, now: now, policy: policy)
                if let seconds = throttle.lockSeconds(at: now) { return .locked(seconds, account) }
                // Every try left is held by a check still running: this one comes back when they are done.
                guard throttle.failures + throttle.checking < policy.maximumFailures else { return .held(account) }
                throttle.checking += 1
                throttle.updatedAt = now
                try db.save(throttle)
                return .reserved(account)
            }
        } catch {
            throw .storage(error)
        }
        let account: Account?
        switch reservation {
        case .overBudget(let seconds):
            throw .throttled(retryAfterSeconds: seconds)
        case .locked(let seconds, let known):
            _ = try? await store.write { db in try db.append([Self.loginAudit(known, "login-while-locked", "failure", 423, now, remoteAddress, request)]) }
            throw .locked(retryAfterSeconds: seconds)
        case .held(let known):
            _ = try? await store.write { db in try db.append([Self.loginAudit(known, "login-deferred", "failure", 429, now, remoteAddress, request)]) }
            throw .throttled(retryAfterSeconds: 5)
        case .reserved(let known):
            account = known
        }

        let hasher = self.hasher
        // An invited patient who has not enrolled yet has no password: checked as an unknown name is.
        let passwordHash = account.flatMap { $0.passwordHash.isEmpty ? nil : $0.passwordHash }
        let verified: Bool
        let upgraded: String?
        do {
            (verified, upgraded) = try await passwordChecks.run {
                guard let passwordHash else {
                    hasher.verifyAgainstNothing(password)
                    return (false, nil)
                }
                let right = hasher.verify(password, against: passwordHash)
                // A hash made with weaker parameters than today's is replaced while the password is at
                // hand, so old accounts do not stay cheaper to guess (or to tell apart by timing).
                return (right, right && !hasher.isCurrent(passwordHash) ? try? hasher.hash(password) : nil)
            }
        } catch {
            _ = try? await store.write { db in try Self.releaseReservation(throttleKey, db: db) }
            throw .busy(retryAfterSeconds: 5)
        }

        // A disabled account answers as a wrong password would: the answer is no oracle.
        guard verified, let account, account.disabledAt == nil else {
            let outcome = account?.disabledAt != nil && verified ? "login-disabled" : "login-failure"
            var failure = Self.loginAudit(account, outcome, "failure", 401, now, remoteAddress, request)
            if account == nil {
                // A name with no account is kept as a pseudonym (the start of its throttle row's key), so
                // failures for many names from one address can be counted (`UnusualActivity`).
                failure.resourceType = "login-name"
                failure.resourceID = String(store.keys.blindIndex(throttleKey).prefix(16))
            }
            let locked: Bool
            let audited = failure
            do {
                locked = try await store.write { db in
                    // The held try becomes a failure.
                    var throttle = try Self.throttle(throttleKey, db: db, now: now, policy: policy)
                    throttle.checking = max(0, throttle.checking - 1)
                    throttle.updatedAt = now
                    var events = [audited]
                    var locks = false
                    if throttle.lockSeconds(at: now) != nil {
                        locks = true  // another check of this burst locked it first
                    } else if throttle.recordFailure(at: now, policy: policy) {
                        events.append(Self.loginAudit(account, "lockout", "failure", 423, now, remoteAddress, request))
                        locks = true
                    }
                    try db.save(throttle)
                    try db.append(events)
                    return locks
                }
            } catch {
                throw .storage(error)
            }
            if locked { throw .locked(retryAfterSeconds: Int(policy.lockDuration / 1000)) }
            throw .unauthorized("The e-mail address or password is not correct.")
        }

        let code = Secrets.oneTimeCode()
        let challengeID = Secrets.randomToken(bytes: 16)
        let challenge = LoginChallenge(
            id: challengeID, accountID: account.id, codeHash: Self.codeHash(challengeID: challengeID, code: code),
            expiresAt: now + policy.codeLifetime, attemptsLeft: policy.codeAttempts)
        do {
            try await store.write { db in
                try Self.releaseReservation(throttleKey, db: db)
                if let upgraded { try db.updatePasswordHash(accountID: account.id, passwordHash: upgraded) }
                try db.insert(challenge)
                try db.append([Self.loginAudit(account, "login-password-ok", "success", 202, now, remoteAddress, request)])
            }
        } catch {
            throw .storage(error)
        }
        // In the language the client asked in, else the account's, else English.
        let language = MailLanguage.preferred(acceptLanguage: acceptLanguage) ?? account.language.flatMap(MailLanguage.init(rawValue:)) ?? .en
        let text = language.loginCode(name: account.displayName, code: code, minutes: policy.codeLifetime / 60_000)
        let message = MailMessage(to: account.email, subject: text.subject, body: text.body)
        do {
            try await mailer.send(message)
        } catch {
            logger.error("login code could not be mailed", metadata: ["account": "\(account.id)", "error": "\(error)"])
            _ = try? await store.write { db in try db.deleteChallenge(id: challenge.id) }
            throw .unavailable("The login code could not be sent. Try again in a few minutes.", retryAfterSeconds: 120)
        }
        return ChallengeIssued(challengeID: challenge.id, expiresIn: Int(policy.codeLifetime / 1000))
    }

    /// A secret check (a password, an enrolment code) spends from the caller's address budget and the
    /// login name's, in the write that checks the lock; past either, the seconds to wait (answered 429
    /// with Retry-After). The budgets are in the database, so instances sharing it share them.
    static func spendLoginBudgets(throttleKey: String, remoteAddress: String?, policy: AuthPolicy, now: Int64, db: any StoreWriting) throws -> Int? {
        let address = "address:" + (remoteAddress.map(AddressRange.budgetKey) ?? "-")
        for (key, limit) in [(address, policy.loginsPerAddress), (throttleKey, policy.loginsPerAccount)] where limit.isEnabled {
            if let wait = try db.useBudget(key: key, limit: limit, now: now) { return wait }
        }
        return nil
    }

    /// The login name's throttle as it stands at `now` (a new one for a name never seen).
    static func throttle(_ key: String, db: any StoreReading, now: Int64, policy: AuthPolicy) throws -> LoginThrottle {
        (try db.throttle(key: key) ?? LoginThrottle(key: key, failures: 0)).decayed(at: now, policy: policy)
    }

    /// A right password (or a check that never ran) gives back the try it held.
    private static func releaseReservation(_ key: String, db: any StoreWriting) throws {
        guard var throttle = try db.throttle(key: key), throttle.checking > 0 else { return }
        throttle.checking -= 1
        try db.save(throttle)
    }

    private static func loginAudit(
        _ account: Account?, _ action: String, _ outcome: String, _ status: Int, _ now: Int64, _ remoteAddress: String?, _ request: String
    ) -> AuditEvent {
        AuditEvent(
            at: now, actorID: account?.id, actorRole: account?.role.rawValue, action: action, outcome: outcome, httpStatus: status,
            remoteAddress: remoteAddress, request: request)
    }

    static func codeHash(challengeID: String, code: String) -> String {
        Secrets.sha256Hex("bedside-otp:\(challengeID):\(code)")
    }

    // MARK: Code step

    public struct SessionIssued: Sendable {
        public var accessToken: String
        public var expiresIn: Int
        public var idleTimeout: Int
        public var account: Account
    }

    /// Checks the e-mailed code; on success opens a session.
    public func verifyCode(challengeID: String, code: String, remoteAddress: String?, request: String) async throws(ServerError)
        -> SessionIssued
    {
        let now = clock.now()
        let policy = self.policy
        let token = Secrets.randomToken()
        let tokenHash = Secrets.sha256Hex(token)
        // No challenge this server made looks like this (it makes 22 URL-safe characters): as unknown as one
        // that was used, without asking the store (PostgreSQL's text cannot even hold U+0000).
        guard challengeID.utf8.count <= 64, !challengeID.containsControlCharacters else {
            throw .codeExpired("The code has expired or was already used. Log in again to get a new code.")
        }
        let suppliedHash = Self.codeHash(challengeID: challengeID, code: code.trimmingCharacters(in: .whitespaces))
        enum Result: Sendable { case ok(Account), wrong(Int), expired, locked(Int) }
        let result: Result
        do {
            result = try await store.write { db in
                guard let challenge = try db.challenge(id: challengeID) else { return .expired }
                let account = try db.account(id: challenge.accountID)
                func audit(_ action: String, _ outcome: String, _ status: Int) -> AuditEvent {
                    Self.loginAudit(account, action, outcome, status, now, remoteAddress, request)
                }
                guard let account, challenge.expiresAt > now else {
                    try db.deleteChallenge(id: challengeID)
                    try db.append([audit("otp-expired", "failure", 401)])
                    return .expired
                }
                let throttleKey = "login:" + Secrets.sha256Hex(account.email)
                var throttle = try Self.throttle(throttleKey, db: db, now: now, policy: policy)
                if let seconds = throttle.lockSeconds(at: now) {
                    try db.deleteChallenge(id: challengeID)
                    try db.append([audit("otp-while-locked", "failure", 423)])
                    return .locked(seconds)
                }
                guard ConstantTime.equal(Array(suppliedHash.utf8), Array(challenge.codeHash.utf8)) else {
                    var updated = challenge
                    updated.attemptsLeft -= 1
                    if updated.attemptsLeft <= 0 { try db.deleteChallenge(id: challengeID) } else { try db.update(updated) }
                    // Wrong codes count towards the lock too, or a known password would allow guessing codes forever.
                    var events = [audit("otp-failure", "failure", 401)]
                    if throttle.recordFailure(at: now, policy: policy) {
                        try db.deleteChallenge(id: challengeID)
                        events.append(audit("lockout", "failure", 423))
                        try db.save(throttle)
                        try db.append(events)
                        return .locked(Int(policy.lockDuration / 1000))
                    }
                    try db.save(throttle)
                    try db.append(events)
                    return .wrong(max(updated.attemptsLeft, 0))
                }
                try db.deleteChallenge(id: challengeID)
                // The failures are forgiven; tries held by checks still running stay held.
                if throttle.checking > 0 {
                    throttle.failures = 0
                    try db.save(throttle)
                } else {
                    try db.deleteThrottle(key: throttleKey)
                }
                try db.insert(SessionRecord(tokenHash: tokenHash, accountID: account.id, createdAt: now, lastSeenAt: now, revokedAt: nil))
                try db.append([audit("login", "success", 200)])
                return .ok(account)
            }
        } catch {
            throw .storage(error)
        }
        switch result {
        case .ok(let account):
            knownSessions.insert(tokenHash)
            return SessionIssued(
                accessToken: token, expiresIn: Int(policy.absoluteTimeout / 1000), idleTimeout: Int(policy.idleTimeout / 1000),
                account: account)
        case .wrong(let left) where left > 0:
            throw .unauthorized("The code is not correct. \(left) \(left == 1 ? "try" : "tries") left.")
        case .wrong:
            throw .codeExpired("The code is not correct and no tries are left. Log in again to get a new code.")
        case .expired:
            throw .codeExpired("The code has expired or was already used. Log in again to get a new code.")
        case .locked(let seconds):
            throw .locked(retryAfterSeconds: seconds)
        }
    }

    // MARK: Sessions

    /// The principal behind a bearer token, or why there is none.
    public func authenticate(authorization: String?) async throws(ServerError) -> Principal {
        guard let authorization, authorization.lowercased().hasPrefix("bearer ") else {
            throw .unauthenticated("Log in first: this request needs a bearer token.")
        }
        let token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty, token.utf8.count <= 128 else { throw .unauthenticated("The session token is not valid.") }
        let tokenHash = Secrets.sha256Hex(token)
        let now = clock.now()
        let policy = self.policy
        let found: (SessionRecord, Account, [String], [String])?
        let client: (ClientToken, BackendClient)?
        do {
            (found, client) = try await store.read { db in
                guard let session = try db.session(tokenHash: tokenHash), let account = try db.account(id: session.accountID)
                else {
                    // Not a person's session: perhaps a backend client's token.
                    let token = try db.clientToken(tokenHash: tokenHash)
                    return (nil, try token.flatMap { token in try db.backendClient(id: token.clientID).map { (token, $0) } })
                }
                let team = account.role == .clinician ? try db.teamPatientIDs(clinicianAccountID: account.id) : []
                let practitioners = try account.patientID.map { try db.teamPractitionerIDs(patientID: $0) } ?? []
                return ((session, account, team, practitioners), nil)
            }
        } catch {
            throw .storage(error)
        }
        if let (token, backend) = client {
            guard backend.disabledAt == nil else { throw .unauthenticated("This client is disabled.") }
            guard now < token.expiresAt else { throw .unauthenticated("The access token has expired; ask the token endpoint for a new one.") }
            knownSessions.insert(tokenHash)
            let scopes = (try? SMARTScopes.parse(token.scopes, strict: true)) ?? SMARTScopes(scopes: [])
            return Principal(
                accountID: backend.id, role: .admin, patientID: nil, practitionerID: nil, teamPatientIDs: [], tokenHash: tokenHash,
                displayName: backend.name, client: BackendClientGrant(clientID: backend.id, name: backend.name, scopes: scopes))
        }
        guard let (session, account, team, practitioners) = found, session.revokedAt == nil, account.disabledAt == nil else {
            throw .unauthenticated("The session has ended. Log in again.")
        }
        if now - session.lastSeenAt > policy.idleTimeout || now - session.createdAt > policy.absoluteTimeout {
            throw .unauthenticated("The session has expired. Log in again.")
        }
        knownSessions.insert(tokenHash)
        if now - session.lastSeenAt > policy.touchInterval {
            _ = try? await store.write { db in try db.touchSession(tokenHash: tokenHash, at: now) }
        }
        return Principal(
            accountID: account.id, role: account.role, patientID: account.patientID, practitionerID: account.practitionerID,
            teamPatientIDs: Set(team), tokenHash: tokenHash, careTeamPractitionerIDs: Set(practitioners), displayName: account.displayName)
    }

    /// Ends the session at once.
    public func logout(_ principal: Principal, remoteAddress: String?, request: String) async throws(ServerError) {
        let now = clock.now()
        do {
            try await store.write { db in
                try db.revokeSession(tokenHash: principal.tokenHash, at: now)
                try db.append([
                    AuditEvent(
                        at: now, actorID: principal.accountID, actorRole: principal.auditRole, action: "logout",
                        outcome: "success", httpStatus: 204, remoteAddress: remoteAddress, request: request)
                ])
            }
        } catch {
            throw .storage(error)
        }
    }
}
