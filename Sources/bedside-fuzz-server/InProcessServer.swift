#if DEBUG || FUZZING
import BedsideCore
import BedsideFuzzSupport
import Dispatch
import Foundation
import Hummingbird
import Logging
import NIOEmbedded
import Synchronization
@testable import BedsideServerKit

/// A request read from fuzz bytes.
///
/// Layout: the first byte picks the method (low 3 bits) and the caller (next 2 bits: the patient, her
/// nurse, nobody, an invented token); then `path?query`, a line of `Name: value` headers each, an empty
/// line, and the body. `{patient}` anywhere stands for the seeded patient's id, so a corpus can name her
/// data although every run seeds a new database.
struct FuzzedRequest {
    enum Caller: Int { case patient, clinician, anonymous, stranger }

    static let methods: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch, .head, .options, .get]

    var method: HTTPRequest.Method
    var caller: Caller
    var target: String
    var headers: [(String, String)]
    var body: [UInt8]

    init(_ bytes: [UInt8]) {
        let control = bytes.first ?? 0
        method = Self.methods[Int(control & 7)]
        caller = Caller(rawValue: Int(control >> 3) & 3) ?? .patient
        var rest = bytes.dropFirst()
        func line() -> String? {
            guard !rest.isEmpty else { return nil }
            let end = rest.firstIndex(of: 0x0A) ?? rest.endIndex
            let text = String(decoding: rest[rest.startIndex..<end], as: UTF8.self)
            rest = end < rest.endIndex ? rest[(end + 1)...] : rest[rest.endIndex...]
            return text.hasSuffix("\r") ? String(text.dropLast()) : text
        }
        target = line() ?? "/"
        headers = []
        while let header = line(), !header.isEmpty {
            guard let colon = header.firstIndex(of: ":") else { continue }
            headers.append((String(header[..<colon]), header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        body = Array(rest)
    }
}

/// The server's router over a real SQLite store in a temporary folder, with one patient and her nurse
/// logged in, answering requests without a socket.
final class InProcessServer: @unchecked Sendable {
    static let shared = InProcessServer()

    let directory: URL
    let responder: RouterResponder<BedsideRequestContext>
    let patientID: String
    let patientToken = "fuzz-patient-token-000000000000000000000000"
    let clinicianToken = "fuzz-clinician-token-0000000000000000000000"
    let logger: Logger
    /// The one channel every request context names. One, never closed: NIO breaks the channel-pipeline
    /// reference cycle only on close, so a channel per request leaked about 5 KB each (the first server
    /// run's out-of-memory after 400,000 requests was the harness's own).
    let channel = NIOAsyncTestingChannel()

    nonisolated(unsafe) private static var directoryToRemove = ""
    static let verbose = ProcessInfo.processInfo.environment["BEDSIDE_FUZZ_VERBOSE"] == "1"

    private init() {
        var logger = Logger(label: "bedside-fuzz-server")
        // The server logs every request; at this rate that would be all the fuzzer does.
        logger.logLevel = .critical
        self.logger = logger
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
        Self.removeLeftovers(in: base)
        directory = base.appendingPathComponent("bedside-fuzz-\(getpid())-\(UUID().uuidString)")
        var configuration = ServerConfiguration(dataDirectory: directory)
        configuration.hasher = .testing
        configuration.rateLimit = nil
        // Budgets would turn most fuzzed requests into 429s and hide the paths behind them.
        configuration.unknownCallerRateLimit = RateLimit(requests: 0)
        configuration.authPolicy.loginsPerAddress = RateLimit(requests: 0)
        configuration.authPolicy.loginsPerAccount = RateLimit(requests: 0)
        // A fixed clock: sessions never expire while the fuzzer runs, and answers do not depend on the hour.
        let clock = ManualClock(epochMilliseconds: 1_795_000_000_000)
        let patientToken = patientToken, clinicianToken = clinicianToken
        do {
            let store = try configuration.openStore()
            let administration = ServerAdministration(store: store, clock: clock, hasher: .testing)
            let (patient, clinician) = try Self.wait {
                let patient = try await administration.addUser(
                    email: "pat@example.org", role: .patient, password: "correct-horse-battery-9", name: "Pat Fuzz")
                let clinician = try await administration.addUser(
                    email: "nurse@example.org", role: .clinician, password: "correct-horse-battery-9", name: "Nurse Fuzz")
                try await administration.addTeamMember(clinicianEmail: "nurse@example.org", patientEmail: "pat@example.org")
                let now = clock.now()
                try await store.write { db in
                    for (token, account) in [(patientToken, patient), (clinicianToken, clinician)] {
                        try db.insert(SessionRecord(tokenHash: Secrets.sha256Hex(token), accountID: account.id, createdAt: now, lastSeenAt: now, revokedAt: nil))
                    }
                }
                return (patient, clinician)
            }
            _ = clinician
            patientID = patient.patientID ?? ""
            let server = BedsideServer(configuration: configuration, store: store, clock: clock, logger: logger)
            let routes = server.makeRoutes(auditRecorder: AuditRecorder(store: store, logger: logger))
            responder = routes.build().buildResponder()
        } catch {
            fatalError("cannot set up the in-process server in \(directory.path): \(error)")
        }
        // The database lives only as long as the fuzzer.
        Self.directoryToRemove = directory.path
        atexit { try? FileManager.default.removeItem(atPath: InProcessServer.directoryToRemove) }
    }

    /// A crash (the point of fuzzing) skips `atexit`, and `/dev/shm` is memory: the folders of fuzzers
    /// that are no longer running go at the next start.
    static func removeLeftovers(in base: URL) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: base.path)) ?? [] where name.hasPrefix("bedside-fuzz-") {
            let fields = name.split(separator: "-")
            guard fields.count > 2, let pid = Int32(fields[2]), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(at: base.appendingPathComponent(name))
        }
    }

    /// Answers `request` and checks the answer: one comes (no hang: libFuzzer's -timeout), it is not a
    /// 500, and an error is a FHIR OperationOutcome.
    func check(_ fuzzed: FuzzedRequest) {
        var headers = HTTPFields()
        for (name, value) in fuzzed.headers {
            // (HTTPFields.Element is HTTPTypes' HTTPField, which Hummingbird does not re-export by name.)
            guard let field = HTTPFields.Element.Name(name) else { continue }
            headers.append(HTTPFields.Element(name: field, value: value.replacingOccurrences(of: "{patient}", with: patientID)))
        }
        switch fuzzed.caller {
        case .patient: headers[.authorization] = "Bearer \(patientToken)"
        case .clinician: headers[.authorization] = "Bearer \(clinicianToken)"
        case .anonymous: break
        case .stranger: headers[.authorization] = "Bearer not-a-session-token"
        }
        let body = Self.substitute(fuzzed.body, patientID: patientID)
        if headers[.contentLength] == nil, !body.isEmpty { headers[.contentLength] = String(body.count) }
        var path = fuzzed.target.replacingOccurrences(of: "{patient}", with: patientID)
        if !path.hasPrefix("/") { path = "/" + path }
        // Logging a seeded caller out would leave every later input unauthenticated (and the fuzzer blind
        // behind the login wall); logout is fuzzed with the anonymous and invented callers only.
        if fuzzed.caller == .patient || fuzzed.caller == .clinician,
            (path.removingPercentEncoding ?? path).lowercased().contains("logout")
        {
            return
        }
        let request = Request(
            head: HTTPRequest(method: fuzzed.method, scheme: "https", authority: "localhost", path: path, headerFields: headers),
            body: RequestBody(buffer: ByteBuffer(bytes: body)))
        let context = BedsideRequestContext(source: ApplicationRequestContextSource(channel: channel, logger: logger))
        let responder = self.responder
        let (status, answer) = Self.waitOrDie {
            let response = try await responder.respond(to: request, context: context)
            let collected = BodyCollector.Bytes()
            try await response.body.write(BodyCollector(collected: collected))
            return (response.status, collected.bytes)
        }
        // Quoted and escaped: a fuzzed path holds NUL and control bytes that would cut the message short.
        let description = "\(fuzzed.method) \(path.debugDescription) answered \(status.code): \(String(decoding: answer.prefix(600), as: UTF8.self).debugDescription)"
        // With BEDSIDE_FUZZ_VERBOSE=1, a replay shows what each corpus input reaches (past the login wall?).
        if Self.verbose { print("\(status.code) \(fuzzed.caller) \(fuzzed.method) \(path)") }
        FuzzTarget.require(status.code < 500, description)
        if status.code >= 400, fuzzed.method != .head {
            let outcome = try? JSONParser.parse(answer)
            FuzzTarget.require(outcome?["resourceType"]?.stringValue == "OperationOutcome", "an error that is not an OperationOutcome: " + description)
        }
    }

    static func substitute(_ body: [UInt8], patientID: String) -> [UInt8] {
        let marker = Array("{patient}".utf8)
        guard body.count >= marker.count, body.contains(UInt8(ascii: "{")) else { return body }
        var out: [UInt8] = []
        var index = 0
        while index < body.count {
            if index + marker.count <= body.count, body[index] == marker[0], Array(body[index..<index + marker.count]) == marker {
                out.append(contentsOf: patientID.utf8)
                index += marker.count
            } else {
                out.append(body[index])
                index += 1
            }
        }
        return out
    }

    /// Runs async work from libFuzzer's synchronous callback; the calling thread is not one of the
    /// concurrency pool's, so blocking it cannot starve the work.
    static func wait<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, any Error>?>(nil)
        Task {
            let outcome: Result<T, any Error>
            do { outcome = .success(try await work()) } catch { outcome = .failure(error) }
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    static func waitOrDie<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) -> T {
        do {
            return try wait(work)
        } catch {
            FuzzTarget.require(false, "the router threw instead of answering: \(error)")
            fatalError()
        }
    }
}

/// Collects a response body; the bytes live in a box because the body consumes its writer.
struct BodyCollector: ResponseBodyWriter {
    final class Bytes: @unchecked Sendable { var bytes: [UInt8] = [] }
    let collected: Bytes

    mutating func write(_ buffer: ByteBuffer) async throws { collected.bytes.append(contentsOf: buffer.readableBytesView) }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
#endif
