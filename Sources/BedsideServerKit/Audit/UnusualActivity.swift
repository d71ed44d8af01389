import BedsideCore
import Foundation
import Logging

/// Thresholds of the unusual-activity rules (`serve --alert-*`, `audit alerts --alert-*`).
public struct UnusualActivitySettings: Sendable, Equatable {
    /// A clinician is unusual when they see at least this many patients in an hour...
    public var patientsPerHourMinimum = 30
    /// ...and this many times more than their usual hour (the 90th percentile of their busy hours in the
    /// two weeks before).
    public var patientsPerHourFactor = 3.0
    /// Failed logins for this many different accounts (or names) from one address in an hour.
    public var failedLoginAccountsPerAddress = 10
    /// Logins to one account from this many different addresses in an hour.
    public var loginAddressesPerAccount = 5
    /// A backend client's first days are its usual: new interactions alert only after these.
    public var clientLearningDays = 7
    /// How often `serve` looks at the trail.
    public var interval: Duration = .seconds(60)

    public init() {}

    /// The two weeks a clinician's usual hour is taken from.
    static let baselineDays: Int64 = 14
}

/// Rules over the audit trail that raise alerts for an administrator: activity that is unusual for
/// the one doing it. Each looks at one clock hour (UTC) at a time; an alert is raised once per rule,
/// subject and hour, kept (`security_alert`), audited (`unusual-activity`) and e-mailed to every
/// administrator by `serve`. `bedside-server audit alerts` lists them.
public enum UnusualActivity {
    public enum Rule: String, Sendable, CaseIterable {
        /// A clinician seeing many more patients than usual in an hour.
        case clinicianPatients = "clinician-patients"
        /// Failed logins for many accounts from one address (password spraying).
        case failedLoginsFromAddress = "failed-logins-from-address"
        /// Logins to one account from many addresses (a shared or stolen password).
        case loginAddresses = "login-addresses"
        /// A backend client doing what it never did before (a type or an interaction its scopes allow
        /// but it never used).
        case clientNewUse = "client-new-use"

        public var title: String {
            switch self {
            case .clinicianPatients: "a clinician saw many more patients than usual"
            case .failedLoginsFromAddress: "failed logins for many accounts from one address"
            case .loginAddresses: "logins to one account from many addresses"
            case .clientNewUse: "a backend client did what it never did before"
            }
        }
    }

    static let hour: Int64 = 3_600_000
    /// What counts as seeing a patient's data.
    static let readActions = ["read", "search", "everything"]
    static let failedLoginActions = ["login-failure", "login-disabled", "otp-failure", "otp-expired", "enrol-failure"]
    /// What opens a session.
    static let loginActions = ["login", "enrol"]
    /// What a backend client does with data, and the one action each counts as (`create-matched` is a
    /// `create` that was a replay; `search-include` a type a search brought along; `export-type` a type
    /// an export was asked for).
    static let clientActions: [String: String] = [
        "read": "read", "search": "search", "search-include": "search", "everything": "everything", "create": "create",
        "create-matched": "create", "update": "update", "export-type": "export",
    ]

    /// `2026-11-18T10:00Z`: the minute an hour looked at starts.
    static func hourText(_ start: Int64) -> String {
        String(FHIRDateTime.format(epochMilliseconds: start - start % 60_000).prefix(16)) + "Z"
    }

    /// Evaluates the hour from `start` (a clock hour, or the last 60 minutes) and returns the alerts it
    /// finds, without storing them; they are kept under the clock hour `hour` (once per rule, subject
    /// and hour).
    static func evaluate(from start: Int64, hour: Int64, now: Int64, settings: UnusualActivitySettings, db: any StoreReading) throws
        -> [SecurityAlert]
    {
        let end = start + Self.hour
        var alerts: [SecurityAlert] = []
        func alert(_ rule: Rule, _ subject: String, _ count: Int, _ threshold: Int, _ detail: String) {
            alerts.append(SecurityAlert(
                rule: rule.rawValue, subject: subject, hour: hour, count: count, threshold: threshold, detail: detail, raisedAt: now))
        }

        // A clinician's patients in the hour, against their usual hour.
        let seen = try db.patientsSeen(
            byRole: Role.clinician.rawValue, actions: readActions, from: start, until: end, atLeast: settings.patientsPerHourMinimum)
        for (clinician, patients) in seen.sorted(by: { $0.key < $1.key }) {
            let usual = percentile90(
                try db.hourlyPatientCounts(
                    actorID: clinician, actions: readActions, from: start - UnusualActivitySettings.baselineDays * 24 * Self.hour, until: start))
            let scaled = (Double(usual) * settings.patientsPerHourFactor).rounded(.up)
            let threshold = max(settings.patientsPerHourMinimum, scaled.isFinite && scaled < Double(Int.max) ? Int(scaled) : Int.max)
            guard patients >= threshold else { continue }
            alert(
                .clinicianPatients, clinician, patients, threshold,
                "Clinician account \(clinician) saw \(patients) patients in the hour from \(hourText(start)); "
                    + "their usual busy hour in the two weeks before: \(usual).")
        }

        // Failed logins from one address for many names.
        var namesByAddress: [String: Set<String>] = [:]
        var loginAddressesByAccount: [String: Set<String>] = [:]
        for event in try db.auditEvents(from: start, until: end, actions: failedLoginActions + loginActions, actorRole: nil) {
            guard let address = event.remoteAddress else { continue }
            if loginActions.contains(event.action) {
                if let account = event.actorID { loginAddressesByAccount[account, default: []].insert(address) }
            } else if let name = event.actorID ?? event.resourceID {
                // An IPv6 /64 is one place, as for the login budgets: rotating within it changes nothing.
                namesByAddress[AddressRange.budgetKey(address), default: []].insert(name)
            }
        }
        for (address, names) in namesByAddress.sorted(by: { $0.key < $1.key }) where names.count >= settings.failedLoginAccountsPerAddress {
            alert(
                .failedLoginsFromAddress, address, names.count, settings.failedLoginAccountsPerAddress,
                "Failed logins for \(names.count) different accounts or names came from \(address) in the hour from \(hourText(start)).")
        }
        for (account, addresses) in loginAddressesByAccount.sorted(by: { $0.key < $1.key })
        where addresses.count >= settings.loginAddressesPerAccount {
            alert(
                .loginAddresses, account, addresses.count, settings.loginAddressesPerAccount,
                "Account \(account) logged in from \(addresses.count) different addresses in the hour from \(hourText(start)).")
        }

        // A backend client's new uses, once its first days are over.
        var usesByClient: [String: Set<String>] = [:]
        for event in try db.auditEvents(from: start, until: end, actions: Array(clientActions.keys).sorted(), actorRole: "system")
        where event.outcome == "success" {
            guard let client = event.actorID, let action = clientActions[event.action] else { continue }
            usesByClient[client, default: []].insert("\(action) \(event.resourceType ?? "-")")
        }
        for (client, uses) in usesByClient.sorted(by: { $0.key < $1.key }) {
            guard let registered = try db.backendClient(id: client)?.createdAt,
                registered < start - Int64(settings.clientLearningDays) * 24 * Self.hour
            else { continue }
            var new: [String] = []
            for use in uses.sorted() {
                let parts = use.split(separator: " ", maxSplits: 1).map(String.init)
                let action = parts[0]
                let type = parts.count > 1 && parts[1] != "-" ? parts[1] : nil
                let actions = clientActions.filter { $0.value == action }.map(\.key).sorted()
                if !(try db.hasAuditEvent(actorID: client, actions: actions, resourceType: type, before: start)) { new.append(use) }
            }
            guard !new.isEmpty else { continue }
            alert(
                .clientNewUse, client, new.count, 1,
                "Backend client \(client) did what it never did before in the hour from \(hourText(start)): \(new.joined(separator: ", ")).")
        }
        return alerts
    }

    /// The 90th percentile of hourly counts (0 without any).
    static func percentile90(_ counts: [Int]) -> Int {
        guard !counts.isEmpty else { return 0 }
        let sorted = counts.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.9).rounded(.down)))]
    }
}

/// Runs the rules over the hours not yet looked at, keeps and audits new alerts, and mails them.
public struct UnusualActivityWatch: Sendable {
    public let store: any ServerStore
    public let clock: any WallClock
    public let settings: UnusualActivitySettings
    /// nil: alerts are kept and listed, not mailed (`audit alerts`).
    let mailer: (any Mailer)?
    let logger: Logger

    public init(store: any ServerStore, clock: any WallClock = SystemClock(), settings: UnusualActivitySettings) {
        self.init(store: store, clock: clock, settings: settings, mailer: nil, logger: Logger(label: "bedside-server"))
    }

    init(store: any ServerStore, clock: any WallClock, settings: UnusualActivitySettings, mailer: (any Mailer)?, logger: Logger) {
        self.store = store
        self.clock = clock
        self.settings = settings
        self.mailer = mailer
        self.logger = logger
    }

    /// The longest stretch looked at in one run (after a long stop, older hours are skipped).
    static let maximumHours: Int64 = 24
    /// An hour is looked at again for this long after it ended: what was stamped in it but written a
    /// little later (a login's record waits for its password check) is counted too.
    static let grace: Int64 = 5 * 60_000
    /// A failed delivery to an administrator is tried again after this long, for a day.
    static let mailRetry: Int64 = 15 * 60_000

    /// Looks at the clock hours from where the last run stopped through the current one, and at the 60
    /// minutes up to now (so activity across an hour's end is one hour's activity); returns the alerts
    /// raised by this run.
    @discardableResult
    public func run() async throws -> [SecurityAlert] {
        let now = clock.now()
        let settings = settings
        let hour = UnusualActivity.hour
        let current = now - now % hour
        let settled = (now - Self.grace) - (now - Self.grace) % hour
        let stored = try await store.read { db in try db.watchedUntilHour() }
        if let stored, stored > current {
            // The clock was ahead once (or another machine's is): look from now on, not from the future.
            logger.warning("unusual activity: the last look was in the future; looking from the current hour", metadata: ["hour": "\(stored)"])
        }
        let from = max(min(stored ?? current - 24 * hour, current), current - Self.maximumHours * hour)
        // The rules read in a read transaction (writers go on meanwhile); the alerts are saved after, where
        // one raised meanwhile by another process for the same rule, subject and hour stays one.
        let found = try await store.read { db -> [SecurityAlert] in
            var found: [SecurityAlert] = []
            var start = from
            while start <= current {
                found += try UnusualActivity.evaluate(from: start, hour: start, now: now, settings: settings, db: db)
                start += hour
            }
            // The last 60 minutes, kept under the clock hour they start in: the same activity seen in that
            // clock hour is one alert, and activity across the hour's end is seen at all.
            let windowStart = now - hour + 1  // up to and including now
            if windowStart > from {
                found += try UnusualActivity.evaluate(
                    from: windowStart, hour: windowStart - windowStart % hour, now: now, settings: settings, db: db)
            }
            return found
        }
        let raised = try await store.write { db -> [SecurityAlert] in
            var raised: [SecurityAlert] = []
            for alert in found { if let saved = try db.save(alert) { raised.append(saved) } }
            try db.setWatchedUntilHour(settled)
            try db.append(raised.map { alert in
                AuditEvent(
                    at: now, actorID: "unusual-activity", actorRole: "system", action: "unusual-activity", resourceType: alert.rule,
                    resourceID: alert.subject, outcome: "success", httpStatus: 0, remoteAddress: nil, request: alert.detail)
            })
            return raised
        }
        for alert in raised { logger.warning("unusual activity", metadata: ["rule": "\(alert.rule)", "subject": "\(alert.subject)"]) }
        if mailer != nil { await mailPending(now: now) }
        return raised
    }

    /// Mails each administrator, in one message, the alerts of the last day they have not had. Delivery
    /// is kept per administrator: one whose mail fails is tried again a quarter of an hour later, and the
    /// others do not get the same alert twice.
    func mailPending(now: Int64) async {
        guard let mailer else { return }
        let since = now - 24 * UnusualActivity.hour
        guard
            let (alerts, admins, mails) = try? await store.read({ db in
                (try db.securityAlerts(raisedSince: since).filter { $0.mailedAt == nil },
                 try db.accounts().filter { $0.role == .admin && $0.disabledAt == nil },
                 try db.alertMails(raisedSince: since))
            }), !alerts.isEmpty, !admins.isEmpty
        else { return }
        var delivered = Set(mails.filter { $0.mailedAt != nil }.map { "\($0.alertID) \($0.accountID)" })
        let tried = Dictionary(mails.map { ("\($0.alertID) \($0.accountID)", $0.attemptedAt) }, uniquingKeysWith: max)
        for admin in admins {
            let due = alerts.filter { alert in
                let key = "\(alert.id) \(admin.id)"
                return !delivered.contains(key) && (tried[key] ?? Int64.min) <= now - Self.mailRetry
            }
            guard !due.isEmpty else { continue }
            let language = admin.language.flatMap(MailLanguage.init(rawValue:)) ?? .en
            let text = language.unusualActivity(
                name: admin.displayName,
                alerts: due.map { (UnusualActivity.Rule(rawValue: $0.rule)?.title ?? $0.rule, $0.detail) })
            var mailedAt: Int64?
            do {
                try await mailer.send(MailMessage(to: admin.email, subject: text.subject, body: text.body))
                mailedAt = now
                for alert in due { delivered.insert("\(alert.id) \(admin.id)") }
            } catch {
                logger.error("unusual-activity alerts could not be mailed to an administrator", metadata: ["account": "\(admin.id)", "error": "\(error)"])
            }
            let recorded = mailedAt
            _ = try? await store.write { db in
                for alert in due { try db.saveAlertMail(alertID: alert.id, accountID: admin.id, attemptedAt: now, mailedAt: recorded) }
            }
        }
        // An alert every administrator has had is done.
        let done = alerts.filter { alert in admins.allSatisfy { delivered.contains("\(alert.id) \($0.id)") } }
        _ = try? await store.write { db in for alert in done { try db.markMailed(alertID: alert.id, at: now) } }
    }
}
