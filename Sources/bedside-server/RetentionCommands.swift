import ArgumentParser
import BedsideCore
import BedsideServerKit
import Foundation

/// `patient end-care` and `patient erase`.
struct PatientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patient", abstract: "End a patient's care, or hand over and erase their data.",
        subcommands: [EndCareCommand.self, EraseCommand.self])
}

/// Names the patient: `--email` of their account or `--patient` (their Patient id).
struct PatientSelection: ParsableArguments {
    @Option(help: "E-mail address of the patient's account.")
    var email: String?

    @Option(name: .customLong("patient"), help: "The patient's Patient id (for a patient without an account, e.g. one an EMR wrote).")
    var patientID: String?

    func validate() throws {
        guard (email == nil) != (patientID == nil) else { throw ValidationError("Name the patient with either --email or --patient.") }
    }

    var selector: ServerAdministration.PatientSelector {
        if let email { return .email(email) }
        return .patientID(patientID ?? "")
    }

    var shown: String { email ?? "Patient/\(patientID ?? "")" }
}

struct EndCareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "end-care",
        abstract: "Record the end of a patient's care: their care teams end, and retention counts from that date.",
        discussion: """
            Their CareTeams become inactive with that end date and no clinician sees them from then on; they
            can still log in and export their own data. `retention` hands over and erases their data a number
            of years later. `team add` takes them back into care.
            """)

    @OptionGroup var options: ServerOptions
    @OptionGroup var patient: PatientSelection

    @Option(help: "When care ended: YYYY-MM-DD, or a date and time with its offset. Default: now. Not in the future.")
    var date: String?

    func run() async throws {
        let store = try await options.openServerStore()
        try await administering {
            let ended = try await ServerAdministration(store: store).endCare(of: patient.selector, date: date)
            print("The care of \(patient.shown) (Patient/\(ended.patientID)) ended on \(ended.endedAt.text); nobody in a care team sees them now.")
        }
    }
}

struct EraseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erase",
        abstract: "Hand a patient's data over to --export-dir, then erase it from the server for good (a request to be forgotten).",
        discussion: """
            Their resources (every version), account, sessions and index entries are deleted; the audit keeps
            that the erasure happened, by whom, and the Patient id. The hand-over is NDJSON per resource type
            in <export-dir>/<patient id>/ with a manifest.json, as Bulk Data writes them; keep it as your
            records rules say. Backups made before still hold the patient until they are pruned.
            """)

    @OptionGroup var options: ServerOptions
    @OptionGroup var patient: PatientSelection

    @Option(help: "The organisation's directory the patient's data is handed over to first (created 0700).", completion: .directory)
    var exportDir: String

    func run() async throws {
        let store = try await options.openServerStore()
        let report = try await handingOver {
            try await ServerAdministration(store: store).erase(patient.selector, handOverTo: URL(fileURLWithPath: exportDir))
        }
        print(RetentionText.erased(report, who: patient.shown))
    }
}

struct RetentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Hand over and erase the data of patients whose care ended more than --years ago.",
        discussion: """
            Without --apply it only lists them (a dry run). Patients whose care has not ended (see
            `patient end-care`; an EMR ends it by making the patient's last CareTeam inactive) are never
            touched. `serve --retention-years N --retention-export-dir DIR` runs the same once a day.
            """)

    @OptionGroup var options: ServerOptions

    @Flag(help: "List the patients that would be handed over and erased; change nothing (the default).")
    var dryRun = false

    @Flag(help: "Hand them over to --export-dir and erase them.")
    var apply = false

    @Option(help: "Years after the end of care that data is kept (1 to 100).")
    var years = 2

    @Option(help: "The organisation's directory the data is handed over to (needed with --apply).", completion: .directory)
    var exportDir: String?

    func validate() throws {
        if dryRun && apply { throw ValidationError("Use either --dry-run or --apply, not both.") }
        guard RetentionPolicy.yearRange.contains(years) else { throw ValidationError("--years must be between 1 and 100.") }
        if apply && exportDir == nil { throw ValidationError("--apply needs --export-dir: the data is handed over before it is erased.") }
    }

    func run() async throws {
        let store = try await options.openServerStore()
        let policy = RetentionPolicy(years: years)
        let retention = RetentionRun(store: store, policy: policy)
        let cutoff = FHIRDateTime.format(epochMilliseconds: policy.cutoff(now: SystemClock().now()))
        guard apply, let exportDir else {
            let candidates = try await retention.candidates()
            print("\(candidates.count) patient\(candidates.count == 1 ? "" : "s") whose care ended before \(cutoff) would be handed over and erased:")
            for candidate in candidates {
                let name = candidate.email.map { " \($0)" } ?? ""
                print("  Patient/\(candidate.careEnd.patientID)\(name)  care ended \(FHIRDateTime.format(epochMilliseconds: candidate.careEnd.endedAt))  \(candidate.resources) resources")
            }
            if !candidates.isEmpty { print("Nothing was changed; --apply --export-dir DIR does it.") }
            return
        }
        let outcomes = try await handingOver {
            try await retention.apply(handOverTo: URL(fileURLWithPath: exportDir), actor: .commandLine)
        }
        var erased = 0
        for outcome in outcomes {
            switch outcome {
            case .erased(let report):
                erased += 1
                print(RetentionText.erased(report, who: "Patient/\(report.patientID)"))
            case .skipped(let patientID, let error):
                print("Patient/\(patientID) was left: \(error)")
            case .stopped(let patientID, let error):
                print("Patient/\(patientID) was not erased and the run stopped: \(error)")
            }
        }
        print("\(erased) patient\(erased == 1 ? "" : "s") whose care ended before \(cutoff) handed over and erased.")
        if erased < outcomes.count { throw ExitCode(1) }
    }
}

/// What the retention commands print.
enum RetentionText {
    static func erased(_ report: PatientErasure.Report, who: String) -> String {
        let total = report.handedOver.values.reduce(0, +)
        return "\(who): \(total) resource\(total == 1 ? "" : "s") handed over to \(report.handOver.path), then erased "
            + "(\(report.erased.resources) resources, \(report.erased.historyVersions) earlier versions, "
            + "\(report.erased.accounts) account\(report.erased.accounts == 1 ? "" : "s"))."
            + (report.removal.sentence.isEmpty ? "" : " " + report.removal.sentence)
    }
}

/// Runs an erasure, turning what stopped it into one sentence (exit 1); usage mistakes stay usage mistakes.
func handingOver<T>(_ work: () async throws -> T) async throws -> T {
    do {
        return try await work()
    } catch let error as AdministrationError {
        throw ValidationError(error.description)
    } catch let error as RetentionError {
        throw CommandFailure(error.description)
    }
}

/// `serve --retention-years N --retention-export-dir DIR`: both, or neither.
struct ScheduledRetentionOptions: ParsableArguments {
    @Option(help: "Once a day, hand over and erase the data of patients whose care ended more than N years ago (1 to 100).")
    var retentionYears: Int?

    @Option(help: "The organisation's directory the daily retention run hands data over to (created 0700).", completion: .directory)
    var retentionExportDir: String?

    func validate() throws {
        guard (retentionYears == nil) == (retentionExportDir == nil) else {
            throw ValidationError("The daily retention run needs both --retention-years and --retention-export-dir.")
        }
        if let retentionYears, !RetentionPolicy.yearRange.contains(retentionYears) {
            throw ValidationError("--retention-years must be between 1 and 100.")
        }
    }

    /// The schedule, with its directory made (0700) and checked writable; nil when none was asked for.
    func schedule() throws -> RetentionSchedule? {
        guard let retentionYears, let retentionExportDir else { return nil }
        do {
            try FileManager.default.createDirectory(
                atPath: retentionExportDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ValidationError("--retention-export-dir \(retentionExportDir) cannot be created: \(error.localizedDescription)")
        }
        guard access(retentionExportDir, W_OK) == 0 else { throw ValidationError("--retention-export-dir \(retentionExportDir) is not writable.") }
        return RetentionSchedule(policy: RetentionPolicy(years: retentionYears), directory: URL(fileURLWithPath: retentionExportDir))
    }
}
