import BedsideCore
import BedsideTestSupport
import Foundation
import Testing

/// The CA or pin given at login is kept with the account (sealed, as contents), so a later plain
/// `bedside sync` reaches the server the same way; an explicit option still wins; logout removes it.
@Suite("bedside remembers the server's trust from login")
struct RememberedTrustTests {
    @Test("login --ca-file COPY, the copy deleted, then a plain sync sends; the CA is sealed; an explicit --ca-file or --pin overrides; logout forgets it")
    func rememberedAtLogin() async throws {
        let server = try await LoopbackServer()
        try await server.addPatient(KillDuringSyncTests.email)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("trust-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let copy = root.appendingPathComponent("ca-copy.pem")
        try FileManager.default.copyItem(atPath: server.caFile, toPath: copy.path)
        var device = KillDuringSyncTests.Device(root: root, server: server, url: server.url, trustOptions: ["--ca-file", copy.path])
        do {
            try await device.login()
            // The contents were kept, not the path: the file may go.
            try FileManager.default.removeItem(at: copy)
            device.trustOptions = []
            try await device.addWeights(2, tag: 3)
            let plain = device
            let sent = try await plain.start(["sync"]).finish()
            #expect(sent.status == 0, "\(sent.errors)")
            #expect(try KillDuringSyncTests.serverCount(server) == 2)

            // Sealed: no certificate text in any file of the data directory.
            for name in try FileManager.default.contentsOfDirectory(atPath: device.dataDirectory) {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: device.dataDirectory).appendingPathComponent(name))
                #expect(bytes.range(of: Data("BEGIN CERTIFICATE".utf8)) == nil, "certificate in clear in \(name)")
            }

            // An explicit option wins over what was remembered: the system's CAs do not know the dev CA, and a wrong pin is a wrong pin.
            try await device.addWeights(1, tag: 4)
            for explicit in [["--ca-file", "/etc/ssl/certs/ca-certificates.crt"], ["--pin", "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]] {
                var overridden = device
                overridden.trustOptions = explicit
                let refused = try await overridden.start(["sync"]).finish()
                #expect(refused.status == 1, "\(explicit): \(refused.errors)")
                #expect(refused.errors.lowercased().contains("certificate") || refused.errors.lowercased().contains("key"), "\(refused.errors)")
            }
            #expect(try KillDuringSyncTests.serverCount(server) == 2)

            let loggedOut = try await plain.start(["logout", "--force"]).finish()
            #expect(loggedOut.status == 0, "\(loggedOut.errors)")
            #expect((try? FileManager.default.contentsOfDirectory(atPath: device.dataDirectory))?.isEmpty ?? true)
        } catch {
            Issue.record("\(error)")
        }
        await server.stop()
        try? FileManager.default.removeItem(at: root)
    }
}
