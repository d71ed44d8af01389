import BedsideCore
import BedsideServerKit
import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@testable import BedsideSync

/// Certificates made for one test: a trusted CA, an untrusted one, and leaves that are right or wrong in one way each.
struct CertificateKit {
    let directory: URL
    let trustedCA: String

    struct Leaf {
        var chain: String
        var key: String
        var pin: String
    }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-kit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        trustedCA = directory.appendingPathComponent("trusted-ca.pem").path
    }

    static func authority(_ name: String) throws -> (P256.Signing.PrivateKey, Certificate) {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(name) }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: Date().addingTimeInterval(-86_400),
            notValidAfter: Date().addingTimeInterval(86_400 * 30), issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            }, issuerPrivateKey: .init(key))
        return (key, certificate)
    }

    /// A server certificate signed by `issuer` (nil: by itself) for the given names, valid in the given window.
    func leaf(
        _ name: String, issuer: (P256.Signing.PrivateKey, Certificate)?, dnsNames: [String], ipv4: [UInt8]?, notBefore: Date, notAfter: Date
    ) throws -> Leaf {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(name) }
        var names: [GeneralName] = dnsNames.map { .dnsName($0) }
        if let ipv4 { names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(ipv4)))) }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: notBefore, notValidAfter: notAfter,
            issuer: issuer?.1.subject ?? subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            }, issuerPrivateKey: .init(issuer?.0 ?? key))
        let chain = directory.appendingPathComponent("\(name).pem").path
        let keyPath = directory.appendingPathComponent("\(name).key").path
        try (try certificate.serializeAsPEM().pemString + "\n").write(toFile: chain, atomically: true, encoding: .utf8)
        try key.pemRepresentation.write(toFile: keyPath, atomically: true, encoding: .utf8)
        // libcurl's pin: sha256// + base64 of the SHA-256 of the DER SubjectPublicKeyInfo.
        let pin = "sha256//" + Data(SHA256.hash(data: key.publicKey.derRepresentation)).base64EncodedString()
        return Leaf(chain: chain, key: keyPath, pin: pin)
    }
}

/// A real bedside-server with the given certificate, on a loopback port.
func serve(_ leaf: CertificateKit.Leaf) async throws -> (RunningServer, SQLiteServerStore, URL) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-server-\(UUID().uuidString)")
    var configuration = ServerConfiguration(dataDirectory: directory)
    configuration.port = 0
    configuration.tls = .files(certificateChain: leaf.chain, privateKey: leaf.key)
    let store = try configuration.openStore()
    return (try await BedsideServer(configuration: configuration, store: store).start(), store, directory)
}

@Suite("Transport fails closed", .serialized)
struct TransportSecurityTests {
    func get(_ url: String, caFile: String?, pin: String? = nil) async -> Result<Int, TransportError> {
        let transport = HTTPTransport(configuration: TransportConfiguration(caFile: caFile, pinnedPublicKey: pin))
        defer { transport.closeConnections() }
        do {
            return .success(try await transport.send(HTTPRequestSpec(method: "GET", url: url)).status)
        } catch {
            return .failure(error)
        }
    }

    func isUntrusted(_ result: Result<Int, TransportError>) -> Bool {
        if case .failure(.untrustedServer) = result { return true }
        return false
    }

    @Test("a verified server works; an unknown CA, a wrong host name, an expired or self-signed certificate and a wrong pin are refused")
    func certificates() async throws {
        let kit = try CertificateKit()
        defer { try? FileManager.default.removeItem(at: kit.directory) }
        let trusted = try CertificateKit.authority("Trusted test CA")
        let stranger = try CertificateKit.authority("Untrusted test CA")
        try (try trusted.1.serializeAsPEM().pemString + "\n").write(toFile: kit.trustedCA, atomically: true, encoding: .utf8)
        let now = Date()
        let good = try kit.leaf("good", issuer: trusted, dnsNames: ["localhost"], ipv4: [127, 0, 0, 1], notBefore: now - 3600, notAfter: now + 86_400)
        let foreign = try kit.leaf("foreign", issuer: stranger, dnsNames: ["localhost"], ipv4: [127, 0, 0, 1], notBefore: now - 3600, notAfter: now + 86_400)
        let otherHost = try kit.leaf("other-host", issuer: trusted, dnsNames: ["bedside.example.org"], ipv4: nil, notBefore: now - 3600, notAfter: now + 86_400)
        let selfSigned = try kit.leaf("self-signed", issuer: nil, dnsNames: ["localhost"], ipv4: [127, 0, 0, 1], notBefore: now - 3600, notAfter: now + 86_400)
        let expired = try kit.leaf("expired", issuer: trusted, dnsNames: ["localhost"], ipv4: [127, 0, 0, 1], notBefore: now - 86_400 * 10, notAfter: now - 86_400)

        for (leaf, expectation) in [(good, "ok"), (foreign, "untrusted"), (otherHost, "untrusted"), (expired, "untrusted"), (selfSigned, "untrusted")] {
            let (server, store, directory) = try await serve(leaf)
            let url = "https://127.0.0.1:\(server.port)/fhir/metadata"
            let result = await get(url, caFile: kit.trustedCA)
            if expectation == "ok" {
                #expect((try? result.get()) == 200, "\(leaf.chain): \(result)")
                #expect((try? await get(url, caFile: kit.trustedCA, pin: good.pin).get()) == 200, "the right pin is accepted")
                #expect(isUntrusted(await get(url, caFile: kit.trustedCA, pin: foreign.pin)), "a wrong pin is refused")
                #expect(isUntrusted(await get(url, caFile: nil)), "the system store does not know the test CA")
            } else {
                #expect(isUntrusted(result), "\(leaf.chain): \(result)")
            }
            await server.stop()
            try? store.close()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test("plain http is refused before any connection is made")
    func plainHTTP() async {
        let result = await get("http://127.0.0.1:9/fhir/metadata", caFile: nil)
        guard case .failure(.insecureURL) = result else { Issue.record("\(result)"); return }
    }
}
