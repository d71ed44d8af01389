import Crypto
import Foundation
import SwiftASN1
import X509

/// A local certificate authority for development: made once per data directory, it signs a server
/// certificate for 127.0.0.1, ::1 and localhost. Clients trust it with `--ca-file <data-dir>/tls/ca.pem`.
public struct DevCertificateAuthority: Sendable {
    public let directory: URL

    public var caCertificatePath: String { directory.appendingPathComponent("ca.pem").path }
    public var caKeyPath: String { directory.appendingPathComponent("ca.key").path }
    public var serverCertificatePath: String { directory.appendingPathComponent("server.pem").path }
    public var serverKeyPath: String { directory.appendingPathComponent("server.key").path }

    public init(directory: URL) {
        self.directory = directory
    }

    /// Creates the CA and the server certificate when they are missing (or the server one is near expiry).
    /// Returns true when a new CA was made.
    @discardableResult
    public func ensure(now: Date = Date()) throws -> Bool {
        let fileManager = FileManager.default
        try fileManager.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var madeCA = false
        let caKey: P256.Signing.PrivateKey
        let caCertificate: Certificate
        if fileManager.fileExists(atPath: caCertificatePath), fileManager.fileExists(atPath: caKeyPath) {
            caKey = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: caKeyPath, encoding: .utf8))
            caCertificate = try Certificate(pemEncoded: String(contentsOfFile: caCertificatePath, encoding: .utf8))
        } else {
            caKey = P256.Signing.PrivateKey()
            let name = try DistinguishedName {
                OrganizationName("Bedside development")
                CommonName("Bedside dev CA \(UUID().uuidString.prefix(8))")
            }
            caCertificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey),
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86_400),
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: .init(caKey.publicKey))
                },
                issuerPrivateKey: .init(caKey))
            try write(caKey.pemRepresentation, to: caKeyPath, mode: 0o600)
            try write(try caCertificate.serializeAsPEM().pemString, to: caCertificatePath, mode: 0o644)
            madeCA = true
        }
        if madeCA || !serverCertificateIsFresh(now: now) {
            let serverKey = P256.Signing.PrivateKey()
            let subject = try DistinguishedName {
                OrganizationName("Bedside development")
                CommonName("localhost")
            }
            let server = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(serverKey.publicKey),
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(397 * 86_400),
                issuer: caCertificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth])
                    SubjectAlternativeNames([
                        .dnsName("localhost"),
                        .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                        .ipAddress(ASN1OctetString(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
                    ])
                    AuthorityKeyIdentifier(keyIdentifier: try caCertificate.extensions.subjectKeyIdentifier?.keyIdentifier)
                },
                issuerPrivateKey: .init(caKey))
            try write(serverKey.pemRepresentation, to: serverKeyPath, mode: 0o600)
            try write(try server.serializeAsPEM().pemString, to: serverCertificatePath, mode: 0o644)
        }
        try endWithNewline([caCertificatePath, caKeyPath, serverCertificatePath, serverKeyPath])
        return madeCA
    }

    /// Files made before every PEM ended with a newline get one, so `cat ca.pem other.pem` makes a bundle.
    private func endWithNewline(_ paths: [String]) throws {
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path), let last = data.last, last != 0x0A else { continue }
            let mode = (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0o600
            try write(String(decoding: data, as: UTF8.self), to: path, mode: mode)
        }
    }

    private func serverCertificateIsFresh(now: Date) -> Bool {
        guard let text = try? String(contentsOfFile: serverCertificatePath, encoding: .utf8),
            let certificate = try? Certificate(pemEncoded: text), FileManager.default.fileExists(atPath: serverKeyPath)
        else { return false }
        return certificate.notValidAfter > now.addingTimeInterval(30 * 86_400)
    }

    /// Writes `text` ending with a newline (PEM tools concatenate files; one without breaks the bundle).
    private func write(_ text: String, to path: String, mode: Int) throws {
        let text = text.hasSuffix("\n") ? text : text + "\n"
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
        try? FileManager.default.removeItem(at: temporary)
        guard FileManager.default.createFile(atPath: temporary.path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary.path])
        }
        guard rename(temporary.path, url.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
    }
}
