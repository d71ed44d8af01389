import ArgumentParser
import BedsideCore
import BedsideServerKit
import Foundation

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The audit trail: print it, verify its chain, look for unusual activity.",
        subcommands: [ShowAuditCommand.self, VerifyAuditCommand.self, AuditAlertsCommand.self],
        defaultSubcommand: ShowAuditCommand.self)
}

struct ShowAuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the audit trail: who did what, when, from where, with what outcome (the default).",
        discussion: "Reads the database directly, so it is for the server's administrator only. It holds no health data.")

    @OptionGroup var options: ServerOptions

    @Option(help: "Show only the last N events.")
    var tail: Int?

    @Option(help: "Show only events of this action (e.g. login-failure, lockout, read, create).")
    var action: String?

    @Flag(help: "One JSON object per line.")
    var json = false

    func run() async throws {
        let store = try await options.openServerStore()
        var events: [AuditChain.Link] = []
        var after: Int64 = 0
        while true {
            let start = after
            let batch = try await store.read { db in try db.auditLinks(after: start, limit: 10_000) }
            guard let last = batch.last else { break }
            events.append(contentsOf: batch.filter { action == nil || $0.event.action == action })
            if let tail, events.count > 2 * tail + 10_000 { events = Array(events.suffix(tail)) }
            after = last.sequence
        }
        if let tail, events.count > tail { events = Array(events.suffix(tail)) }
        for link in events {
            let (sequence, event) = (link.sequence, link.event)
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
                object["mac"] = link.mac.map { .string($0.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()) }
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

struct VerifyAuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Walk the audit trail's chain and name the first record that was changed, removed or inserted.",
        discussion: """
            Exit status 0 when the chain is intact, 1 when it is broken. It ends with the chain's head (last record and \
            MAC): note it, and later pass it with --head to check that no record was cut off the end since.
            """)

    @OptionGroup var options: ServerOptions

    @Option(help: "A head noted before, as SEQ:MAC (from an earlier run): it must still be in the chain.")
    var head: String?

    func validate() throws {
        if let head, AuditHead(head) == nil { throw ValidationError("--head must be SEQ:MAC as printed by audit verify, e.g. 1234:9f2c61d0a4b7e813.") }
    }

    func run() async throws {
        let store = try await options.openServerStore()
        defer { try? store.close() }
        var verifier = AuditChain.Verifier(key: store.keys.audit)
        let expectedHead = head.flatMap(AuditHead.init)
        var headFound = expectedHead == nil
        var after: Int64 = 0
        do {
            while true {
                let start = after
                let batch = try await store.read { db in try db.auditLinks(after: start, limit: 10_000) }
                guard let last = batch.last else { break }
                for link in batch {
                    try verifier.check(link)
                    if let expectedHead, link.sequence == expectedHead.sequence {
                        guard let mac = link.mac, AuditChain.shortHex(mac) == expectedHead.mac else {
                            throw CommandFailure("Audit record \(link.sequence) is not the head noted before: the trail was rewritten from there.")
                        }
                        headFound = true
                    }
                }
                after = last.sequence
            }
        } catch let broken as AuditChain.Break {
            print("BROKEN after \(verifier.checked) intact records. \(broken.description)")
            throw ExitCode(1)
        } catch let failure as CommandFailure {
            print("BROKEN. \(failure.description)")
            throw ExitCode(1)
        }
        if let expectedHead, !headFound {
            print("BROKEN. Record \(expectedHead.sequence), the head noted before, is no longer in the trail: records were cut off the end.")
            throw ExitCode(1)
        }
        guard let last = verifier.previous, let mac = last.mac else {
            print("Intact: the trail is empty.")
            return
        }
        print(
            "Intact: \(verifier.checked) records. Head: \(last.sequence):\(AuditChain.shortHex(mac)) "
                + "(\(FHIRDateTime.format(epochMilliseconds: last.event.at)))")
    }
}

/// A chain head as `audit verify` prints it: `SEQ:MAC` (16 hex digits).
struct AuditHead {
    var sequence: Int64
    var mac: String

    init(sequence: Int64, mac: String) {
        self.sequence = sequence
        self.mac = mac
    }

    init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let sequence = Int64(parts[0]), sequence > 0, parts[1].count == 16,
            parts[1].allSatisfy({ $0.isHexDigit })
        else { return nil }
        self.sequence = sequence
        self.mac = parts[1].lowercased()
    }
}

struct SeedDemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed-demo",
        abstract: "Create demo accounts and 90 days of measurements (2 clinicians, 6 patients, check-in questionnaires).")

    @OptionGroup var options: ServerOptions

    func run() async throws {
        let store = try await options.openServerStore()
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
