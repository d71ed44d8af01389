import BedsideCore

/// What a user may do; see DESIGN.md "Roles".
public enum Role: String, Sendable, Codable, CaseIterable {
    case patient, clinician, admin
}

/// A person who can log in.
public struct Account: Sendable, Equatable {
    public var id: String
    /// Lower-cased e-mail address; the login name.
    public var email: String
    public var role: Role
    /// Encoded password hash (see `PasswordHasher`), never the password.
    public var passwordHash: String
    public var displayName: String
    /// The FHIR Patient this account is, for role patient.
    public var patientID: String?
    /// The FHIR Practitioner this account is, for role clinician.
    public var practitionerID: String?
    public var createdAt: Int64
    /// Set by `bedside-server user disable`: no login, no session.
    public var disabledAt: Int64?
    /// The language e-mail is written in when the client does not say (`user add --lang`): en, nl or de.
    public var language: String?

    public init(
        id: String, email: String, role: Role, passwordHash: String, displayName: String,
        patientID: String? = nil, practitionerID: String? = nil, createdAt: Int64, disabledAt: Int64? = nil, language: String? = nil
    ) {
        self.disabledAt = disabledAt
        self.language = language
        self.id = id
        self.email = email
        self.role = role
        self.passwordHash = passwordHash
        self.displayName = displayName
        self.patientID = patientID
        self.practitionerID = practitionerID
        self.createdAt = createdAt
    }
}

/// Failed-login bookkeeping per login name, kept for unknown names too so that lockout is no oracle.
public struct LoginThrottle: Sendable, Equatable {
    public var key: String
    /// Wrong passwords and codes counted towards the lock.
    public var failures: Int
    /// Tries held by password checks still running; with `failures` they may not exceed the maximum.
    public var checking: Int
    public var lockedUntil: Int64?
    /// When a failure was last counted: failures older than `AuthPolicy.failureDecay` are forgotten,
    /// and the housekeeping loop deletes rows that hold nothing any more.
    public var updatedAt: Int64 = 0

    public init(key: String, failures: Int, checking: Int = 0, lockedUntil: Int64? = nil, updatedAt: Int64 = 0) {
        self.key = key
        self.failures = failures
        self.checking = checking
        self.lockedUntil = lockedUntil
        self.updatedAt = updatedAt
    }

    /// With failures forgotten when the last one is older than the policy's decay, an expired lock gone,
    /// and tries held longer than any check takes given back (a server stopped in the middle of a check).
    func decayed(at now: Int64, policy: AuthPolicy) -> LoginThrottle {
        var copy = self
        if let lockedUntil, lockedUntil <= now { copy.lockedUntil = nil }
        if now - updatedAt > policy.checkHold { copy.checking = 0 }
        if now - updatedAt > policy.failureDecay, copy.lockedUntil == nil { copy.failures = 0 }
        return copy
    }

    /// Whole seconds left of a lock in force at `now` (for Retry-After); nil when not locked.
    func lockSeconds(at now: Int64) -> Int? {
        guard let lockedUntil, lockedUntil > now else { return nil }
        return Int((lockedUntil - now + 999) / 1000)
    }

    /// Counts one wrong secret (a password, a login code, an enrolment code): at the policy's maximum the
    /// name is locked and the count starts again. True when this failure locked it.
    mutating func recordFailure(at now: Int64, policy: AuthPolicy) -> Bool {
        failures += 1
        updatedAt = now
        guard failures >= policy.maximumFailures else { return false }
        failures = 0
        lockedUntil = now + policy.lockDuration
        return true
    }
}

/// A password check that passed and now waits for the e-mailed code.
public struct LoginChallenge: Sendable, Equatable {
    public var id: String
    public var accountID: String
    /// SHA-256 of the challenge id and the code; the code itself is only in the e-mail.
    public var codeHash: String
    public var expiresAt: Int64
    public var attemptsLeft: Int
}

/// A logged-in session; the bearer token is known only by its hash.
public struct SessionRecord: Sendable, Equatable {
    public var tokenHash: String
    public var accountID: String
    public var createdAt: Int64
    public var lastSeenAt: Int64
    public var revokedAt: Int64?

    public init(tokenHash: String, accountID: String, createdAt: Int64, lastSeenAt: Int64, revokedAt: Int64?) {
        self.tokenHash = tokenHash
        self.accountID = accountID
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.revokedAt = revokedAt
    }
}

/// One version of a FHIR resource as the store keeps it, with the columns search needs.
public struct StoredResource: Sendable, Equatable {
    public var type: String
    public var id: String
    public var versionID: Int
    public var lastUpdated: Int64
    /// The patient the resource belongs to (compartment), for access checks and `patient=` search.
    public var patientID: String?
    public var status: String?
    /// The resource's clinically relevant time (Observation.effective, QuestionnaireResponse.authored,
    /// Task due date, Flag start), for `date` search and sorting.
    public var date: Int64?
    /// Sort rank for Flag priority (red 3, orange 2, gray 1).
    public var priority: Int?
    /// The resource JSON, meta included.
    public var json: [UInt8]
    /// Codes (`system`, `code`) for `code=` search.
    public var codes: [ResourceCode]
    /// Identifiers (`system`, `value`) for conditional create and `identifier=` search.
    public var identifiers: [ResourceCode]
    /// Category codings (`system`, `code`) for `category=` search.
    public var categories: [ResourceCode]

    /// Where the resource's identifiers must be unique: its patient's compartment, or (nil) the whole
    /// server, for resources outside any compartment and for Patients themselves (an MRN names one patient).
    public var identifierScope: String? { type == "Patient" ? nil : patientID }

    public init(
        type: String, id: String, versionID: Int, lastUpdated: Int64, patientID: String?, status: String?,
        date: Int64?, priority: Int?, json: [UInt8], codes: [ResourceCode] = [], identifiers: [ResourceCode] = [],
        categories: [ResourceCode] = []
    ) {
        self.categories = categories
        self.type = type
        self.id = id
        self.versionID = versionID
        self.lastUpdated = lastUpdated
        self.patientID = patientID
        self.status = status
        self.date = date
        self.priority = priority
        self.json = json
        self.codes = codes
        self.identifiers = identifiers
    }
}

/// A `system|code` (or `system|value`) pair; `system` may be empty.
public struct ResourceCode: Sendable, Hashable {
    public var system: String
    public var code: String

    public init(system: String, code: String) {
        self.system = system
        self.code = code
    }

    /// Equal byte for byte, as both databases compare text. (Swift's `String ==` also equates canonically
    /// equivalent spellings, a composed and a decomposed "é", which the databases keep apart: a set of
    /// identifiers would then drop one that the database holds as another's.)
    public static func == (left: ResourceCode, right: ResourceCode) -> Bool {
        left.system.utf8.elementsEqual(right.system.utf8) && left.code.utf8.elementsEqual(right.code.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(system.utf8.count)
        for byte in system.utf8 { hasher.combine(byte) }
        for byte in code.utf8 { hasher.combine(byte) }
    }
}

/// One line of the audit trail: who did what, when, from where, and how it ended. Never PHI.
public struct AuditEvent: Sendable, Equatable {
    public var at: Int64
    /// Account id of the actor, or nil when unknown (a failed login for an unknown name).
    public var actorID: String?
    public var actorRole: String?
    /// `login`, `login-failure`, `lockout`, `otp`, `otp-failure`, `logout`, `read`, `search`, `create`,
    /// `update`, `transaction`, `denied`, ...
    public var action: String
    public var resourceType: String?
    public var resourceID: String?
    public var patientID: String?
    /// `success` or `failure`.
    public var outcome: String
    public var httpStatus: Int
    public var remoteAddress: String?
    /// Method and path without query (queries can hold identifiers).
    public var request: String?

    public init(
        at: Int64, actorID: String?, actorRole: String?, action: String, resourceType: String? = nil,
        resourceID: String? = nil, patientID: String? = nil, outcome: String, httpStatus: Int,
        remoteAddress: String?, request: String?
    ) {
        self.at = at
        self.actorID = actorID
        self.actorRole = actorRole
        self.action = action
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.patientID = patientID
        self.outcome = outcome
        self.httpStatus = httpStatus
        self.remoteAddress = remoteAddress
        self.request = request
    }
}

/// A system registered to call the API on its own behalf (SMART Backend Services): an EMR, say.
public struct BackendClient: Sendable, Equatable {
    /// The `client_id` it names itself by (`iss` and `sub` of its assertions).
    public var id: String
    public var name: String
    /// Its public keys, a JWKS as JSON: what its assertions are checked against.
    public var jwks: String
    /// The system scopes it may be granted, space-separated.
    public var scopes: String
    public var createdAt: Int64
    public var disabledAt: Int64?

    public init(id: String, name: String, jwks: String, scopes: String, createdAt: Int64, disabledAt: Int64? = nil) {
        self.id = id
        self.name = name
        self.jwks = jwks
        self.scopes = scopes
        self.createdAt = createdAt
        self.disabledAt = disabledAt
    }
}

/// An access token given to a backend client, stored by its hash like a session.
public struct ClientToken: Sendable, Equatable {
    public var tokenHash: String
    public var clientID: String
    /// The scopes granted with it, space-separated.
    public var scopes: String
    public var createdAt: Int64
    public var expiresAt: Int64

    public init(tokenHash: String, clientID: String, scopes: String, createdAt: Int64, expiresAt: Int64) {
        self.tokenHash = tokenHash
        self.clientID = clientID
        self.scopes = scopes
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// An invitation's enrolment code, waiting for the invited patient: only its hash is kept.
public struct EnrolmentRecord: Sendable, Equatable {
    public var accountID: String
    public var codeHash: String
    public var expiresAt: Int64
    public var createdAt: Int64

    public init(accountID: String, codeHash: String, expiresAt: Int64, createdAt: Int64) {
        self.accountID = accountID
        self.codeHash = codeHash
        self.expiresAt = expiresAt
        self.createdAt = createdAt
    }
}

/// A Bulk Data export (`$export`) and where it stands; its files live under the data directory.
public struct ExportJobRecord: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// Waiting for the export worker.
        case accepted
        case running
        case complete
        case failed
        /// Deleted by its client (DELETE on the status URL) before or after it finished.
        case cancelled
    }

    /// 128 random bits, hex: the status URL's last segment.
    public var id: String
    /// The backend client that asked for it: only its tokens see the job and its files.
    public var clientID: String
    /// What was asked (`ExportRequest`, as JSON).
    public var request: [UInt8]
    public var status: Status
    public var createdAt: Int64
    /// The instant the export covers: resources changed after it are left for the next `_since`.
    public var transactionTime: Int64
    public var finishedAt: Int64?
    /// When the files are deleted (set when the job finishes).
    public var expiresAt: Int64?
    /// For `X-Progress` while it runs.
    public var progress: String?
    /// The complete manifest (without base URLs, which depend on how the client reaches us).
    public var manifest: [UInt8]?
    /// Why it failed, for the client.
    public var error: String?
    /// The run that holds it: new at each claim, and the name of the folder its files are written to.
    /// A run that finds another attempt (or none) in the job has been replaced (its instance stopped
    /// leading exports while it ran): it stops, and what it wrote is never handed out.
    public var attempt: String?

    public init(id: String, clientID: String, request: [UInt8], status: Status, createdAt: Int64, transactionTime: Int64) {
        self.id = id
        self.clientID = clientID
        self.request = request
        self.status = status
        self.createdAt = createdAt
        self.transactionTime = transactionTime
    }
}

/// One resource read for an export, and whose compartment it is in (for the audit).
public struct ExportRow: Sendable {
    public var json: [UInt8]
    public var patientID: String?
}

/// A page of an export: its rows, and the key to continue after (nil: the walk is done).
public struct ExportPage: Sendable {
    public var rows: [ExportRow] = []
    public var next: Int64?
}

/// When a patient's care ended: the start of the time their data is kept (`retention`).
public struct CareEnd: Sendable, Equatable {
    /// Who recorded it.
    public enum Source: String, Sendable {
        /// `bedside-server patient end-care`.
        case commandLine = "command-line"
        /// The patient's last active CareTeam ended (written by an EMR or the command line).
        case careTeam = "care-team"
    }

    public var patientID: String
    public var endedAt: Int64
    public var source: Source

    public init(patientID: String, endedAt: Int64, source: Source) {
        self.patientID = patientID
        self.endedAt = endedAt
        self.source = source
    }
}

/// How much of a patient the store holds: compared before and after a hand-over, so an erasure never
/// deletes what was written after the hand-over was read.
public struct PatientDataSummary: Sendable, Equatable {
    public var resources = 0
    /// The sum of the resources' version numbers: any update changes it.
    public var versions = 0
    public var newestUpdate: Int64 = 0
    /// Earlier versions kept in the history.
    public var historyVersions = 0

    public init(resources: Int = 0, versions: Int = 0, newestUpdate: Int64 = 0, historyVersions: Int = 0) {
        self.resources = resources
        self.versions = versions
        self.newestUpdate = newestUpdate
        self.historyVersions = historyVersions
    }
}

/// What an erasure deleted.
public struct ErasureCounts: Sendable, Equatable {
    public var resources = 0
    public var historyVersions = 0
    public var accounts = 0

    public init(resources: Int = 0, historyVersions: Int = 0, accounts: Int = 0) {
        self.resources = resources
        self.historyVersions = historyVersions
        self.accounts = accounts
    }
}

/// An alert for administrators about activity unusual for the one doing it (`UnusualActivity`).
public struct SecurityAlert: Sendable, Equatable {
    public var id: Int64 = 0
    /// `UnusualActivity.Rule`'s raw value.
    public var rule: String
    /// Whom it is about: a clinician's or patient's account id, an address, a backend client's id.
    public var subject: String
    /// The clock hour (epoch milliseconds of its start, UTC) the activity was in.
    public var hour: Int64
    public var count: Int
    public var threshold: Int
    /// One sentence for the administrator, without health data.
    public var detail: String
    public var raisedAt: Int64
    public var mailedAt: Int64?

    public init(rule: String, subject: String, hour: Int64, count: Int, threshold: Int, detail: String, raisedAt: Int64) {
        self.rule = rule
        self.subject = subject
        self.hour = hour
        self.count = count
        self.threshold = threshold
        self.detail = detail
        self.raisedAt = raisedAt
    }
}

/// One administrator's copy of an alert: when it was last tried, and delivered.
public struct AlertMail: Sendable, Equatable {
    public var alertID: Int64
    public var accountID: String
    public var attemptedAt: Int64
    public var mailedAt: Int64?
}
