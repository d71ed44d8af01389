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
    static let failedLoginActions = ["login-failure", "login-disabled", "otp-failure"]
    /// What a backend client does with data (`create-matched` is a `create` that was a replay).
    static let clientActions = ["read", "search", "everything", "create", "create-matched", "update", "export"]

    static func hourText(_ hour: Int64) -> String {
        let text = FHIRDateTime.format(epochMilliseconds: hour)
        return String(text.prefix(13)) + ":00Z"
    }

    /// Evaluates the hour starting at `hour` (up to `now` when it is the current one) and returns the
    /// alerts it finds, without storing them.
    static func evaluate(hour: Int64, now: Int64, settings: UnusualActivitySettings, db: any StoreReading) throws -> [SecurityAlert] {
        let end = hour + Self.hour
        var alerts: [SecurityAlert] = []
        func alert(_ rule: Rule, _ subject: String, _ count: Int, _ threshold: Int, _ detail: String) {
            alerts.append(SecurityAlert(
                rule: rule.rawValue, subject: subject, hour: hour, count: count, threshold: threshold, detail: detail, raisedAt: now))
        }

        // A clinician's patients in the hour, against their usual hour.
        let seen = try db.patientsSeen(
            byRole: Role.clinician.rawValue, actions: readActions, from: hour, until: end, atLeast: settings.patientsPerHourMinimum)
        for (clinician, patients) in seen.sorted(by: { $0.key < $1.key }) {
            let usual = percentile90(
                try db.hourlyPatientCounts(
                    actorID: clinician, actions: readActions, from: hour - UnusualActivitySettings.baselineDays * 24 * Self.hour, until: hour))
            let threshold = max(settings.patientsPerHourMinimum, Int((Double(usual) * settings.patientsPerHourFactor).rounded(.up)))
            guard patients >= threshold else { continue }
            alert(
                .clinicianPatients, clinician, patients, threshold,
                "Clinician account \(clinician) saw \(patients) patients in the hour from \(hourText(hour)); "
                    + "their usual busy hour in the two weeks before: \(usual).")
        }

        // Failed logins from one address for many names.
        var namesByAddress: [String: Set<String>] = [:]
        var loginAddressesByAccount: [String: Set<String>] = [:]
        for event in try db.auditEvents(from: hour, until: end, actions: failedLoginActions + ["login"], actorRole: nil) {
            guard let address = event.remoteAddress else { continue }
            if event.action == "login" {
                if let account = event.actorID { loginAddressesByAccount[account, default: []].insert(address) }
            } else if let name = event.actorID ?? event.resourceID {
                namesByAddress[address, default: []].insert(name)
            }
        }
        for (address, names) in namesByAddress.sorted(by: { $0.key < $1.key }) where names.count >= settings.failedLoginAccountsPerAddress {
            alert(
                .failedLoginsFromAddress, address, names.count, settings.failedLoginAccountsPerAddress,
                "Failed logins for \(names.count) different accounts or names came from \(address) in the hour from \(hourText(hour)).")
        }
        for (account, addresses) in loginAddressesByAccount.sorted(by: { $0.key < $1.key })
        where addresses.count >= settings.loginAddressesPerAccount {
            alert(
                .loginAddresses, account, addresses.count, settings.loginAddressesPerAccount,
                "Account \(account) logged in from \(addresses.count) different addresses in the hour from \(hourText(hour)): "
                    + addresses.sorted().prefix(10).joined(separator: ", ") + ".")
        }

        // A backend client's new uses, once its first days are over.
        var usesByClient: [String: Set<String>] = [:]
        for event in try db.auditEvents(from: hour, until: end, actions: clientActions, actorRole: "system")
        where event.outcome == "success" {
            guard let client = event.actorID else { continue }
            let action = event.action == "create-matched" ? "create" : event.action
            usesByClient[client, default: []].insert("\(action) \(event.resourceType ?? "-")")
        }
        for (client, uses) in usesByClient.sorted(by: { $0.key < $1.key }) {
            guard try db.backendClient(id: client) != nil, let first = try db.firstAuditTime(actorID: client),
                first < hour - Int64(settings.clientLearningDays) * 24 * Self.hour
            else { continue }
            var new: [String] = []
            for use in uses.sorted() {
                let parts = use.split(separator: " ", maxSplits: 1).map(String.init)
                let action = parts[0]
                let type = parts.count > 1 && parts[1] != "-" ? parts[1] : nil
                let actions = action == "create" ? ["create", "create-matched"] : [action]
                if !(try db.hasAuditEvent(actorID: client, actions: actions, resourceType: type, before: hour)) { new.append(use) }
            }
            guard !new.isEmpty else { continue }
            alert(
                .clientNewUse, client, new.count, 1,
                "Backend client \(client) did what it never did before in the hour from \(hourText(hour)): \(new.joined(separator: ", ")).")
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
    static let maximumHours: Int64 = 24 * 7

    /// Looks at the hours from where the last run stopped through the current one; returns the alerts
    /// raised by this run.
    @discardableResult
    public func run() async throws -> [SecurityAlert] {
        let now = clock.now()
        let settings = settings
        let current = now - now % UnusualActivity.hour
        // The rules read in a read transaction (writers go on meanwhile); the alerts are saved after, where
        // one raised meanwhile by another process for the same rule, subject and hour stays one.
        let found = try await store.read { db -> [SecurityAlert] in
            let from = max(try db.watchedUntilHour() ?? (current - 24 * UnusualActivity.hour), current - Self.maximumHours * UnusualActivity.hour)
            var found: [SecurityAlert] = []
            var hour = from
            while hour <= current {
                found += try UnusualActivity.evaluate(hour: hour, now: now, settings: settings, db: db)
                hour += UnusualActivity.hour
            }
            return found
        }
        let raised = try await store.write { db -> [SecurityAlert] in
            let raised = try found.compactMap { alert in try db.save(alert) }
            if try (db.watchedUntilHour() ?? Int64.min) < current { try db.setWatchedUntilHour(current) }
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

    /// Mails every administrator the alerts of the last day not yet mailed (a failed delivery is tried
    /// again at the next run).
    func mailPending(now: Int64) async {
        guard let mailer else { return }
        guard
            let (alerts, admins) = try? await store.read({ db in
                (try db.securityAlerts(raisedSince: now - 24 * UnusualActivity.hour).filter { $0.mailedAt == nil },
                 try db.accounts().filter { $0.role == .admin && $0.disabledAt == nil })
            }), !alerts.isEmpty
        else { return }
        guard !admins.isEmpty else { return }
        for alert in alerts {
            var delivered = true
            for admin in admins {
                let language = admin.language.flatMap(MailLanguage.init(rawValue:)) ?? .en
                let text = language.unusualActivity(name: admin.displayName, title: UnusualActivity.Rule(rawValue: alert.rule)?.title ?? alert.rule, detail: alert.detail)
                do {
                    try await mailer.send(MailMessage(to: admin.email, subject: text.subject, body: text.body))
                } catch {
                    delivered = false
                    logger.error("an unusual-activity alert could not be mailed", metadata: ["rule": "\(alert.rule)", "error": "\(error)"])
                }
            }
            if delivered { _ = try? await store.write { db in try db.markMailed(alertID: alert.id, at: now) } }
        }
    }
}
