import ArgumentParser
import BedsideCore
import BedsideServerKit
import Foundation

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Print the audit trail: who did what, when, from where, with what outcome.",
        discussion: "Reads the database directly, so it is for the server's administrator only. It holds no health data.")

    @OptionGroup var options: ServerOptions

    @Option(help: "Show only the last N events.")
    var tail: Int?

    @Option(help: "Show only events of this action (e.g. login-failure, lockout, read, create).")
    var action: String?

    @Flag(help: "One JSON object per line.")
    var json = false

    func run() async throws {
        let store = try options.openStore()
        var events: [(sequence: Int64, event: AuditEvent)] = []
        var after: Int64 = 0
        while true {
            let batch = try store.readNow { db in try db.auditEvents(after: after, limit: 10_000) }
            guard let last = batch.last else { break }
            events.append(contentsOf: batch.filter { action == nil || $0.event.action == action })
            after = last.sequence
        }
        if let tail, events.count > tail { events = Array(events.suffix(tail)) }
        for (sequence, event) in events {
            if json {
                var object: JSONObject = [
                    "seq": .number(Int(sequence)),
                    "at": .string(FHIRDateTime.format(epochMilliseconds: event.at)),
                    "action": .string(event.action),
                    "outcome": .string(event.outcome),
                    "status": .number(event.httpStatus),
                ]
                object["actor"] = event.actorID.map { .string($0) }
                object["role"] = event.actorRole.map { .string($0) }
                object["resource"] = event.resourceType.map { type in .string(event.resourceID.map { "\(type)/\($0)" } ?? type) }
                object["patient"] = event.patientID.map { .string($0) }
                object["from"] = event.remoteAddress.map { .string($0) }
                object["request"] = event.request.map { .string($0) }
                print(JSONValue.object(object).serializedString())
            } else {
                let resource = event.resourceType.map { type in event.resourceID.map { "\(type)/\($0)" } ?? type } ?? "-"
                let actor = event.actorID.map { "\($0) (\(event.actorRole ?? "?"))" } ?? "unknown user"
                print(
                    "\(FHIRDateTime.format(epochMilliseconds: event.at))  \(event.action)  \(event.outcome) \(event.httpStatus)  "
                        + "by \(actor) from \(event.remoteAddress ?? "-")  \(resource)\(event.patientID.map { " patient \($0)" } ?? "")")
            }
        }
    }
}

struct SeedDemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed-demo",
        abstract: "Create demo accounts and 90 days of measurements (2 clinicians, 6 patients, check-in questionnaires).")

    @OptionGroup var options: ServerOptions

    func run() async throws {
        let store = try options.openStore()
        try await administering {
            let logins = try await DemoSeeder(administration: ServerAdministration(store: store)).seed()
            print("Demo accounts (login codes arrive in \(options.configuration.mailDirectory.path)/new/):")
            for login in logins {
                let detail = login.condition.map { ", \($0)" } ?? ""
                print("  \(login.role.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(login.email.padding(toLength: 32, withPad: " ", startingAt: 0)) password \(login.password)   (\(login.name)\(detail))")
            }
        }
    }
}
