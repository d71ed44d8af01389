import ArgumentParser
import BedsideCore
import BedsideServerKit
import Foundation

/// The thresholds of the unusual-activity rules: `serve` and `audit alerts` take the same.
struct UnusualActivityOptions: ParsableArguments {
    @Option(help: "Alert when a clinician sees at least this many patients in an hour (1 to 100000)...")
    var alertPatientsPerHour = UnusualActivitySettings().patientsPerHourMinimum

    @Option(help: "...and this many times more than in their usual busy hour of the two weeks before (1 to 1000).")
    var alertPatientsFactor = UnusualActivitySettings().patientsPerHourFactor

    @Option(help: "Alert when failed logins for this many different accounts or names come from one address in an hour (2 to 100000).")
    var alertFailedLoginAccounts = UnusualActivitySettings().failedLoginAccountsPerAddress

    @Option(help: "Alert when one account logs in from this many different addresses in an hour (2 to 100000).")
    var alertLoginAddresses = UnusualActivitySettings().loginAddressesPerAccount

    @Option(help: "A backend client's first days are its usual: alert on what it never did before only after these (0 to 365).")
    var alertClientLearningDays = UnusualActivitySettings().clientLearningDays

    func validate() throws {
        guard (1...100_000).contains(alertPatientsPerHour) else { throw ValidationError("--alert-patients-per-hour must be between 1 and 100000.") }
        guard alertPatientsFactor.isFinite, (1...1000).contains(alertPatientsFactor) else {
            throw ValidationError("--alert-patients-factor must be between 1 and 1000.")
        }
        guard (2...100_000).contains(alertFailedLoginAccounts) else {
            throw ValidationError("--alert-failed-login-accounts must be between 2 and 100000.")
        }
        guard (2...100_000).contains(alertLoginAddresses) else { throw ValidationError("--alert-login-addresses must be between 2 and 100000.") }
        guard (0...365).contains(alertClientLearningDays) else { throw ValidationError("--alert-client-learning-days must be between 0 and 365.") }
    }

    var settings: UnusualActivitySettings {
        var settings = UnusualActivitySettings()
        settings.patientsPerHourMinimum = alertPatientsPerHour
        settings.patientsPerHourFactor = alertPatientsFactor
        settings.failedLoginAccountsPerAddress = alertFailedLoginAccounts
        settings.loginAddressesPerAccount = alertLoginAddresses
        settings.clientLearningDays = alertClientLearningDays
        return settings
    }
}

struct AuditAlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "List the alerts about unusual activity (with --look, look at the audit trail first).",
        discussion: """
            Rules: a clinician seeing many more patients than usual in an hour; failed logins for many accounts
            from one address; logins to one account from many addresses; a backend client doing what it never
            did before. `serve` looks every minute and e-mails new alerts to every administrator account. This
            command lists the alerts of the last --days; with --look it first looks itself, with the --alert-*
            thresholds given here (give the ones `serve` runs with: what it raises, `serve` mails). Exit 0
            when there are none, 3 when there are.
            """)

    @OptionGroup var options: ServerOptions
    @OptionGroup var thresholds: UnusualActivityOptions

    @Option(help: "List the alerts raised in the last N days (1 to 3650).")
    var days = 7

    @Flag(help: "One JSON object per line.")
    var json = false

    @Flag(help: "Look at the audit trail up to now first (when `serve` is not running), with these thresholds.")
    var look = false

    func validate() throws {
        guard (1...3650).contains(days) else { throw ValidationError("--days must be between 1 and 3650.") }
    }

    func run() async throws {
        let store = try await options.openServerStore()
        let clock = SystemClock()
        if look { try await UnusualActivityWatch(store: store, clock: clock, settings: thresholds.settings).run() }
        let since = clock.now() - Int64(days) * 86_400_000
        let alerts = try await store.read { db in try db.securityAlerts(raisedSince: since) }
        for alert in alerts {
            if json {
                let object: JSONValue = [
                    "id": .number(Double(alert.id)), "rule": .string(alert.rule), "subject": .string(alert.subject),
                    "hour": .string(FHIRDateTime.format(epochMilliseconds: alert.hour)), "count": .number(Double(alert.count)),
                    "threshold": .number(Double(alert.threshold)), "detail": .string(alert.detail),
                    "raised": .string(FHIRDateTime.format(epochMilliseconds: alert.raisedAt)),
                    "mailed": alert.mailedAt.map { .string(FHIRDateTime.format(epochMilliseconds: $0)) } ?? .null,
                ]
                print(String(decoding: object.serialized(), as: UTF8.self))
            } else {
                print("\(FHIRDateTime.format(epochMilliseconds: alert.raisedAt))  \(alert.rule)  \(alert.detail)")
            }
        }
        if !json {
            print(alerts.isEmpty ? "No unusual activity in the last \(days) days." : "\(alerts.count) alert\(alerts.count == 1 ? "" : "s") in the last \(days) days.")
        }
        if !alerts.isEmpty { throw ExitCode(3) }
    }
}
