import BedsideCore
import Foundation

/// What the client trusts a server by, beyond the system's CAs: the CA certificates given at login
/// (`--ca-file`, kept as their contents, not as a path that may change or vanish) and a key pin.
/// Kept with the account, sealed, so that a later `bedside sync` or the app's background sync reach
/// the same server the same way; removed with everything else at logout.
public struct ServerTrust: Sendable, Equatable {
    public var caCertificates: String?
    public var pinnedPublicKey: String?

    /// The largest CA file taken in (a bundle of a few hundred certificates).
    public static let maximumCABytes = 1 << 20

    public init(caCertificates: String? = nil, pinnedPublicKey: String? = nil) {
        self.caCertificates = caCertificates
        self.pinnedPublicKey = pinnedPublicKey
    }

    /// The trust a configuration was given explicitly (a CA file read now, a pin); nil when it trusts
    /// only the system's CAs.
    public init?(capturing configuration: TransportConfiguration) throws(ServerTrustError) {
        var certificates = configuration.caCertificates
        if let path = configuration.caFile {
            guard let handle = FileHandle(forReadingAtPath: path) else { throw .unreadable(path) }
            defer { try? handle.close() }
            let data = (try? handle.read(upToCount: Self.maximumCABytes + 1)) ?? nil
            guard let data, data.count <= Self.maximumCABytes else { throw .tooLarge(path) }
            guard let text = String(data: data, encoding: .utf8), text.contains("-----BEGIN CERTIFICATE-----") else {
                throw .notPEM(path)
            }
            certificates = text
        }
        guard certificates != nil || configuration.pinnedPublicKey != nil else { return nil }
        self.init(caCertificates: certificates, pinnedPublicKey: configuration.pinnedPublicKey)
    }

    /// `configuration` with this trust, unless it was given a CA file, certificates or a pin of its own:
    /// an explicit option always wins over what was remembered.
    public func applied(to configuration: TransportConfiguration) -> TransportConfiguration {
        guard configuration.caFile == nil, configuration.caCertificates == nil, configuration.pinnedPublicKey == nil else {
            return configuration
        }
        var trusted = configuration
        trusted.caCertificates = caCertificates
        trusted.pinnedPublicKey = pinnedPublicKey
        return trusted
    }

    public var json: JSONValue {
        var object = JSONObject()
        if let caCertificates { object["caCertificates"] = .string(caCertificates) }
        if let pinnedPublicKey { object["pin"] = .string(pinnedPublicKey) }
        return .object(object)
    }

    public init?(json: JSONValue?) {
        guard let json, json.objectValue != nil else { return nil }
        self.init(caCertificates: json["caCertificates"]?.stringValue, pinnedPublicKey: json["pin"]?.stringValue)
        if caCertificates == nil && pinnedPublicKey == nil { return nil }
    }
}

/// Why a CA file given at login cannot be kept.
public enum ServerTrustError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(String)
    case tooLarge(String)
    case notPEM(String)

    public var description: String {
        switch self {
        case .unreadable(let path): "Cannot read the CA file \(path)."
        case .tooLarge(let path): "The CA file \(path) is larger than 1 MiB."
        case .notPEM(let path): "The CA file \(path) holds no PEM certificate (-----BEGIN CERTIFICATE-----)."
        }
    }
}
