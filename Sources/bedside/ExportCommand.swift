import ArgumentParser
import BedsideApp
import BedsideCore
import Foundation

/// `bedside export`: the patient's own data, to take with them (GDPR art. 20). Only after the password
/// was right is anything written, to a file only its owner can read.
struct ExportCommand: AsyncParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case fhir, csv
    }

    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export your measurements and questionnaire answers: FHIR (a JSON Bundle) or CSV (measurements).",
        discussion: """
            FHIR writes one collection Bundle of your Observations and QuestionnaireResponses (FHIR R4). CSV writes one row \
            per measurement: time,kind,code,value,unit,value2,unit2,note,state (blood pressure as value/value2). It exports \
            what this computer holds. The file is created only its owner can read (0600), never over an existing one; \
            without --output the export goes to standard output.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(help: "fhir or csv.")
    var format: Format

    @Option(help: "The file to create (it must not exist yet).", completion: .file())
    var output: String?

    @Flag(help: "Read the password from standard input.")
    var passwordStdin = false

    func validate() throws {
        if let output {
            guard !output.isEmpty else { throw ValidationError("--output needs a file name.") }
            guard !FileManager.default.fileExists(atPath: output) else {
                throw ValidationError("'\(output)' already exists; choose a new file name (an export never overwrites a file).")
            }
        }
    }

    func run() async throws {
        let core = try await unlockedCore(options, passwordStdin: passwordStdin)
        let data: (patientID: String, measurements: [MeasurementRecord], responses: [JSONValue])
        do {
            data = try await core.exportData()
        } catch {
            await core.lock()
            complain("The export could not be read from this computer's store: \(error)")
            throw Exit.failure
        }
        await core.lock()
        let bytes: [UInt8] =
            switch format {
            case .csv: Array(PatientDataExport.csv(data.measurements).utf8)
            case .fhir:
                JSONPrettyPrinter.indent(
                    PatientDataExport.bundle(
                        measurements: data.measurements, responses: data.responses, patientID: data.patientID, now: SystemClock().now()
                    ).serialized())
            }
        guard let output else {
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        do {
            try PrivateFile.create(atPath: output, contents: bytes)
        } catch {
            complain("\(error)")
            throw Exit.failure
        }
        let what = format == .csv ? "\(data.measurements.count) measurements" : "\(data.measurements.count) measurements and \(data.responses.count) questionnaire responses"
        say("Exported \(what) to \(output).")
    }
}

/// A new file only its owner may read or write, written whole or not at all.
enum PrivateFile {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func create(atPath path: String, contents: [UInt8]) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw Failure(description: "'\(path)' could not be created: \(String(cString: strerror(errno))).")
        }
        var written = 0
        let failed: Int32? = contents.withUnsafeBytes { buffer in
            while written < buffer.count {
                let result = write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += result
            }
            return fsync(descriptor) == 0 ? nil : errno
        }
        close(descriptor)
        if let failed {
            unlink(path)
            throw Failure(description: "'\(path)' could not be written: \(String(cString: strerror(failed))); nothing was kept.")
        }
    }
}
