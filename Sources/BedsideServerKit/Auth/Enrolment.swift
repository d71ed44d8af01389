import BedsideCore
import Foundation
import Logging

/// Invitations for patients their care organisation enrolled (a Patient created with an e-mail by a
/// backend client): a single-use enrolment code, valid 7 days, e-mailed; only its hash is kept.
public struct Invitations: Sendable {
    public let store: any ServerStore
    public let clock: any WallClock
    public let mailer: any Mailer
    let logger: Logger

    /// How long an enrolment code can be used.
    public static let lifetime: Int64 = 7 * 86_400_000
    /// Crockford's base 32: no I, L, O or U to misread; 12 characters carry 60 bits.
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    public init(store: any ServerStore, clock: any WallClock, mailer: any Mailer, logger: Logger) {
        self.store = store
        self.clock = clock
        self.mailer = mailer
        self.logger = logger
    }

    /// A new code, written `XXXX-XXXX-XXXX`.
    static func newCode() -> String {
        var generator = SystemRandomNumberGenerator()
        let characters = (0..<12).map { _ in alphabet[Int(generator.next(upperBound: UInt32(alphabet.count)))] }
        return stride(from: 0, to: 12, by: 4).map { String(characters[$0..<$0 + 4]) }.joined(separator: "-")
    }

    /// The code as typed, made canonical: case, spaces and dashes do not matter, and the letters Crockford
    /// leaves out are read as the digits they look like.
    static func normalized(_ code: String) -> String {
        String(code.uppercased().compactMap { character -> Character? in
            switch character {
            case " ", "-", "\t": nil
            case "O": "0"
            case "I", "L": "1"
            default: character
            }
        }.prefix(64))
    }

    static func codeHash(accountID: String, code: String) -> String {
        Secrets.sha256Hex("bedside-enrol:\(accountID):\(normalized(code))")
    }

    /// Makes a code for the account (replacing any earlier one), keeps its hash, and e-mails it. False when
    /// the mail could not be sent (the code is then withdrawn, and the failure logged and audited).
    @discardableResult
    public func invite(_ account: Account, actor: AuditEvent) async -> Bool {
        let now = clock.now()
        let code = Self.newCode()
        let record = EnrolmentRecord(
            accountID: account.id, codeHash: Self.codeHash(accountID: account.id, code: code), expiresAt: now + Self.lifetime, createdAt: now)
        var event = actor
        event.action = "invite"
        event.resourceType = "Patient"
        event.resourceID = account.patientID
        event.patientID = account.patientID
        let invited = event
        do {
            try await store.write { db in
                try db.save(record)
                try db.append([invited])
            }
        } catch {
            logger.error("enrolment code could not be stored", metadata: ["account": "\(account.id)", "error": "\(error)"])
            return false
        }
        let language = account.language.flatMap(MailLanguage.init(rawValue:)) ?? .en
        let text = language.invitation(name: account.displayName, code: code, email: account.email, days: Self.lifetime / 86_400_000)
        do {
            try await mailer.send(MailMessage(to: account.email, subject: text.subject, body: text.body))
            return true
        } catch {
            logger.error("invitation could not be mailed", metadata: ["account": "\(account.id)", "error": "\(error)"])
            var failed = event
            failed.action = "invite-failed"
            failed.outcome = "failure"
            let failure = failed
            _ = try? await store.write { db in
                try db.deleteEnrolment(accountID: account.id)
                try db.append([failure])
            }
            return false
        }
    }
}

extension AuthService {
    /// `POST /auth/enrol`: an invited patient's enrolment code and the password they chose. The password
    /// is checked against the policy first (a weak one changes nothing and uses no try); then the code,
    /// under the same lock as the login (5 wrong answers lock the name for 15 minutes); a right code is
    /// used up, the password set, and a session opened, as after `/auth/otp`. An unknown name, an account
    /// not invited, a wrong, used or expired code all get the same answer.
    public func enrol(username: String, code: String, password: String, remoteAddress: String?, request: String) async throws(ServerError)
        -> SessionIssued
    {
        let email = Self.normalizedEmail(username)
        let now = clock.now()
        if let problem = PasswordPolicy().problem(with: password, email: email) {
            throw .invalid(OperationOutcome(code: "business-rule", diagnostics: problem, expression: "password"))
        }
        let throttleKey = "login:" + Secrets.sha256Hex(email)
        let policy = self.policy
        let refusal = ServerError.unauthorized("The enrolment code is not right, or has been used or has expired. Ask your care team for a new one.")
        enum Check: Sendable { case invited(Account), refused, locked(Int), overBudget(Int) }
        let check: Check
        do {
            check = try await store.write { db in
                if let wait = try Self.spendLoginBudgets(throttleKey: throttleKey, remoteAddress: remoteAddress, policy: policy, now: now, db: db) {
                    return .overBudget(wait)
                }
                let account = try db.account(email: email)
                var throttle = try Self.throttle(throttleKey, db: db, now: now, policy: policy)
                if let seconds = throttle.lockSeconds(at: now) {
                    try db.append([Self.enrolAudit(account, "enrol-while-locked", "failure", 423, now, remoteAddress, request)])
                    return .locked(seconds)
                }
                let record = try account.flatMap { try db.enrolment(accountID: $0.id) }
                if let account, let record, account.disabledAt == nil, record.expiresAt > now,
                    ConstantTime.equal(
                        Array(Invitations.codeHash(accountID: account.id, code: code).utf8), Array(record.codeHash.utf8))
                {
                    return .invited(account)
                }
                var events = [Self.enrolAudit(account, "enrol-failure", "failure", 401, now, remoteAddress, request)]
                var locked: Check = .refused
                if throttle.recordFailure(at: now, policy: policy) {
                    events.append(Self.enrolAudit(account, "lockout", "failure", 423, now, remoteAddress, request))
                    locked = .locked(Int(policy.lockDuration / 1000))
                }
                try db.save(throttle)
                try db.append(events)
                return locked
            }
        } catch {
            throw .storage(error)
        }
        let account: Account
        switch check {
        case .refused: throw refusal
        case .overBudget(let seconds): throw .throttled(retryAfterSeconds: seconds)
        case .locked(let seconds): throw .locked(retryAfterSeconds: seconds)
        case .invited(let invited): account = invited
        }
        let hasher = self.hasher
        let hash: String
        do {
            hash = try await passwordChecks.run { Result { try hasher.hash(password) } }.get()
        } catch {
            throw .busy(retryAfterSeconds: 5)
        }
        let token = Secrets.randomToken()
        let tokenHash = Secrets.sha256Hex(token)
        let used: Bool
        do {
            used = try await store.write { db in
                // The code is used once: a second enrolment racing this one finds it gone.
                guard let record = try db.enrolment(accountID: account.id),
                    ConstantTime.equal(Array(Invitations.codeHash(accountID: account.id, code: code).utf8), Array(record.codeHash.utf8))
                else { return false }
                try db.deleteEnrolment(accountID: account.id)
                try db.updatePasswordHash(accountID: account.id, passwordHash: hash)
                try db.deleteThrottle(key: throttleKey)
                try db.insert(SessionRecord(tokenHash: tokenHash, accountID: account.id, createdAt: now, lastSeenAt: now, revokedAt: nil))
                try db.append([Self.enrolAudit(account, "enrol", "success", 200, now, remoteAddress, request)])
                return true
            }
        } catch {
            throw .storage(error)
        }
        guard used else { throw refusal }
        knownSessions.insert(tokenHash)
        return SessionIssued(
            accessToken: token, expiresIn: Int(policy.absoluteTimeout / 1000), idleTimeout: Int(policy.idleTimeout / 1000), account: account)
    }

    private static func enrolAudit(
        _ account: Account?, _ action: String, _ outcome: String, _ status: Int, _ now: Int64, _ remoteAddress: String?, _ request: String
    ) -> AuditEvent {
        AuditEvent(
            at: now, actorID: account?.id, actorRole: account?.role.rawValue, action: action, resourceType: account?.patientID == nil ? nil : "Patient",
            resourceID: account?.patientID, patientID: account?.patientID, outcome: outcome, httpStatus: status, remoteAddress: remoteAddress,
            request: request)
    }
}
