import BedsideCore
import Foundation
import BedsideFuzzSupport

#if DEBUG || FUZZING
// SearchRequest and the router are internal to the server library; debug builds and the fuzz build
// (which passes -enable-testing) may reach them. A plain release build has no server targets.
@testable import BedsideServerKit

let serverTargets: [FuzzTarget] = [
    FuzzTarget("search", summary: "search-parameter parser: query string (percent-decoding, _has, dates, tokens) for each resource type", maximumLength: 1024) { bytes in
        guard let first = bytes.first else { return }
        let types = SupportedResource.allCases
        let type = types[Int(first) % types.count]
        let query = String(decoding: bytes.dropFirst(), as: UTF8.self)
        _ = try? SearchRequest.parse(type: type, parameters: SearchRequest.parameters(query: query))
    },
    FuzzTarget("server", summary: "the whole request handling in-process: method, path?query, headers, body in; an answer out", maximumLength: 16384) { bytes in
        InProcessServer.shared.check(FuzzedRequest(bytes))
    },
    FuzzTarget("export-request", summary: "Bulk Data kick-off parameters (_type, _since, _outputFormat, ...) and Prefer, as query text", maximumLength: 1024) { bytes in
        let text = String(decoding: bytes, as: UTF8.self)
        let (prefer, query) = text.split(separator: "\n", maxSplits: 1).map(String.init).splitFirst()
        let levels: [ExportRequest.Level] = [.system, .patient, .group(id: "g1")]
        let level = levels[Int(bytes.first ?? 0) % levels.count]
        _ = try? ExportRequest.parse(
            level: level, parameters: SearchRequest.parameters(query: query), prefer: prefer, requestURL: "https://fuzz/fhir/$export",
            principal: FuzzPrincipals.client)
    },
    FuzzTarget("key-files", summary: "the master key file and the backup key files, as read from disk", maximumLength: 4096) { bytes in
        _ = try? MasterKeyFile.parse(bytes[...], path: "fuzz")
        FuzzFiles.withFile(bytes) { path in
            _ = try? BackupRecipientKey.read(path: path)
            _ = try? BackupSecretKey.read(path: path)
        }
    },
    FuzzTarget("backup", summary: "a backup file read back for restore: header, chunks, the archive inside", maximumLength: 16384) { bytes in
        FuzzFiles.withFile(bytes) { path in
            guard let input = try? BackupFileHandle.openForReading(path) else { return }
            guard let opener = try? BackupOpener(input: input, key: FuzzFiles.backupKey) else { return }
            while let chunk = try? opener.read(upTo: 65_536), !chunk.isEmpty {}
        }
    },
]

/// A backend client with every system scope, for the targets that parse what only clients may send.
enum FuzzPrincipals {
    static let client = Principal(
        accountID: "fuzz-client", role: .admin, patientID: nil, practitionerID: nil, teamPatientIDs: [], tokenHash: "fuzz",
        client: BackendClientGrant(
            clientID: "fuzz-client", name: "Fuzz EMR", scopes: (try? SMARTScopes.parse("system/*.rs", strict: true)) ?? SMARTScopes(scopes: [])))
}

/// Inputs the parsers under test read from files: written to one private file, read, overwritten.
enum FuzzFiles {
    static let backupKey = BackupSecretKey(.init())
    static let path = NSTemporaryDirectory() + "bedside-fuzz-\(getpid()).input"

    static func withFile(_ bytes: [UInt8], _ body: (String) -> Void) {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else { return }
        defer { unlink(path) }
        body(path)
    }
}

extension Array where Element == String {
    /// (first line, the rest): a Prefer header, then the query.
    fileprivate func splitFirst() -> (String, String) { (first ?? "", dropFirst().first ?? "") }
}
#else
let serverTargets: [FuzzTarget] = []
#endif
