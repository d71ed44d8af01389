import BedsideSync
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideServerKit

@Suite("TLS")
struct TLSTests {
    /// Runs a command-line tool (off the pool: it talks to the in-process server) and returns its exit
    /// status and what it printed and complained.
    func run(_ tool: String, _ arguments: [String]) async throws -> (Int32, String) {
        let finished = try await ChildProcess.run("/usr/bin/env", [tool] + arguments)
        return (finished.status, finished.outputText + finished.errors)
    }

    @Test("TLS 1.2 and 1.3 are served, TLS 1.1 and plain HTTP are not")
    func protocolVersions() async throws {
        try await withServer { server in
            let address = "127.0.0.1:\(server.running.port)"
            // SECLEVEL=0 lets the client offer TLS 1.1, so that a refusal is the server's doing.
            let base = ["s_client", "-connect", address, "-CAfile", server.caFile, "-verify_return_error", "-cipher", "DEFAULT@SECLEVEL=0"]
            let (modern, modernOutput) = try await run("openssl", base + ["-tls1_2"])
            #expect(modern == 0, "\(modernOutput)")
            #expect(modernOutput.contains("Verify return code: 0 (ok)"))
            let (tls13, _) = try await run("openssl", ["s_client", "-connect", address, "-CAfile", server.caFile, "-tls1_3"])
            #expect(tls13 == 0)
            let (old, oldOutput) = try await run("openssl", base + ["-tls1_1"])
            #expect(old != 0, "TLS 1.1 must be refused: \(oldOutput)")

            let (plain, plainOutput) = try await run("curl", ["-sS", "--max-time", "5", "http://\(address)/fhir/metadata"])
            #expect(plain != 0 || !plainOutput.contains("CapabilityStatement"))
        }
    }

    @Test("the dev certificate names 127.0.0.1, ::1 and localhost, and keys are private")
    func devCertificate() async throws {
        try await withServer { server in
            let (status, text) = try await run("openssl", ["x509", "-in", server.directory.appendingPathComponent("tls/server.pem").path, "-noout", "-text"])
            #expect(status == 0)
            #expect(text.contains("DNS:localhost"))
            #expect(text.contains("IP Address:127.0.0.1"))
            #expect(text.contains("IP Address:0:0:0:0:0:0:0:1"))
            #expect(text.contains("TLS Web Server Authentication"))
            for key in ["ca.key", "server.key"] {
                let mode = try FileManager.default.attributesOfItem(atPath: server.directory.appendingPathComponent("tls/\(key)").path)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(key)")
            }
            let (verify, verifyOutput) = try await run(
                "openssl", ["verify", "-CAfile", server.caFile, server.directory.appendingPathComponent("tls/server.pem").path])
            #expect(verify == 0, "\(verifyOutput)")
        }
    }

    @Test("every PEM ends with a newline, so cat ca.pem other.pem makes a bundle libcurl accepts; older files are mended at start")
    func pemBundles() async throws {
        try await withServer { server in
            let tls = server.directory.appendingPathComponent("tls")
            for name in ["ca.pem", "ca.key", "server.pem", "server.key"] {
                #expect(FileManager.default.contents(atPath: tls.appendingPathComponent(name).path)?.last == 0x0A, "\(name)")
            }
            // The CA first and another certificate after it: without the newline the second BEGIN line is glued to the first END.
            let ca = try Data(contentsOf: tls.appendingPathComponent("ca.pem"))
            let other = try Data(contentsOf: tls.appendingPathComponent("server.pem"))
            let bundle = server.directory.appendingPathComponent("bundle.pem")
            try (ca + other).write(to: bundle)
            let transport = HTTPTransport(configuration: TransportConfiguration(caFile: bundle.path))
            let answer = try await transport.send(HTTPRequestSpec(method: "GET", url: server.baseURL + "/fhir/metadata"))
            #expect(answer.status == 200)
            // A CA file written by an older version, without the newline, gets one when the server starts again.
            try Data(ca.dropLast()).write(to: tls.appendingPathComponent("ca.pem"))
            try DevCertificateAuthority(directory: tls).ensure()
            #expect(try Data(contentsOf: tls.appendingPathComponent("ca.pem")) == ca)
        }
    }
}
