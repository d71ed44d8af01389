import Foundation

/// Where a PostgreSQL database is and how to reach it, from a `postgresql://` URL (`--database`,
/// `BEDSIDE_DATABASE_URL`), in libpq's form:
/// `postgresql://user:password@host:port/database?sslmode=verify-full&sslrootcert=/path/ca.pem`, or
/// `postgresql://user@/database?host=/var/run/postgresql` for a Unix socket.
///
/// Unlike libpq, the default `sslmode` checks the server's certificate (`verify-full`) unless the host
/// is this machine (`prefer`): medical data does not cross a network unencrypted or to an unproven
/// server by default. Anything the URL says that is not understood is refused (a mistyped `sslmod=`
/// must not silently leave the connection unencrypted).
public struct PostgresLocation: Sendable, Equatable {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unixSocket(directory: String, port: Int)
    }

    public enum SSLMode: String, Sendable, CaseIterable {
        /// Never encrypted.
        case disable
        /// Encrypted when the server offers it, the certificate not checked.
        case prefer
        /// Always encrypted, the certificate not checked.
        case require
        /// Always encrypted, the certificate checked against the CA, not the host name.
        case verifyCA = "verify-ca"
        /// Always encrypted, the certificate checked against the CA and the host name.
        case verifyFull = "verify-full"
    }

    public var endpoint: Endpoint
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode
    /// The CA the server's certificate must chain to (nil: the system's trusted CAs).
    public var rootCertificateFile: String?
    /// How long to wait for a connection before the request fails with 503.
    public var connectTimeoutSeconds: Int

    /// The longest URL read; a longer one is refused before it is parsed.
    public static let maximumURLLength = 4_096

    public init(url text: String) throws(PostgresLocationError) {
        guard text.utf8.count <= Self.maximumURLLength else { throw .init(.tooLong, "The database URL is longer than \(Self.maximumURLLength) bytes.") }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F || $0.value > 0x7E }) else {
            throw .init(.malformed, "The database URL may hold only printable ASCII: percent-encode anything else (a space is %20).")
        }
        let lowered = text.lowercased()
        guard lowered.hasPrefix("postgresql://") || lowered.hasPrefix("postgres://") else {
            throw .init(.unsupportedScheme, "The database URL must start with postgresql:// (for example postgresql://bedside@db.example.org/bedside).")
        }
        var port = 5432
        if let portText = Self.portText(in: text) {
            guard portText.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(portText), (1...65_535).contains(number) else {
                // The text is not shown: a URL cut in the wrong place can put part of the password here.
                throw .init(.badPort, "The database URL's port must be a number from 1 to 65535.")
            }
            port = number
        }
        guard Self.hasWellFormedEscapes(text) else { throw .init(.malformed, "The database URL has a broken %-escape (% must be followed by two hex digits).") }
        guard let components = URLComponents(string: text) else {
            throw .init(.malformed, "The database URL is not a valid URL: \(Self.redact(text)).")
        }
        func decoded(_ value: String?, _ what: String) throws(PostgresLocationError) -> String? {
            guard let value else { return nil }
            guard let plain = value.removingPercentEncoding else { throw .init(.malformed, "The \(what) in the database URL has a broken %-escape.") }
            guard !plain.unicodeScalars.contains(where: { $0.value == 0 }) else { throw .init(.malformed, "The \(what) in the database URL holds a NUL byte.") }
            return plain
        }

        var parameters: [String: String] = [:]
        for item in components.percentEncodedQueryItems ?? [] {
            guard let known = Self.parameterNames.first(where: { $0 == item.name }) else {
                throw .init(
                    .unknownParameter,
                    "The database URL's parameter \"\(item.name.prefix(40))\" is not one Bedside knows (\(Self.parameterNames.joined(separator: ", "))).")
            }
            guard parameters[known] == nil else { throw .init(.malformed, "The database URL gives \(known) twice.") }
            parameters[known] = try decoded(item.value ?? "", known) ?? ""
        }

        let host = try decoded(components.percentEncodedHost, "host").map { $0.hasPrefix("[") && $0.hasSuffix("]") ? String($0.dropFirst().dropLast()) : $0 } ?? ""
        if let socket = parameters["host"], !socket.isEmpty {
            guard host.isEmpty else { throw .init(.malformed, "The database URL names a host twice (before the path and as ?host=).") }
            guard socket.hasPrefix("/") else { throw .init(.malformed, "?host= in the database URL is a Unix socket's directory, an absolute path.") }
            endpoint = .unixSocket(directory: socket, port: port)
        } else {
            guard !host.isEmpty else { throw .init(.missingHost, "The database URL names no host (postgresql://user@HOST/database).") }
            endpoint = .tcp(host: host, port: port)
        }

        guard let user = try decoded(components.percentEncodedUser, "user name"), !user.isEmpty else {
            throw .init(.missingUser, "The database URL names no user (postgresql://USER@host/database).")
        }
        self.user = user
        password = try decoded(components.percentEncodedPassword, "password")

        let path = try decoded(components.percentEncodedPath, "database name") ?? ""
        let name = path.hasPrefix("/") ? String(path.dropFirst()) : path
        guard !name.isEmpty, !name.contains("/") else {
            throw .init(.missingDatabase, "The database URL names no database, or more than one (postgresql://user@host/DATABASE).")
        }
        guard name.utf8.count <= 63 else { throw .init(.missingDatabase, "A PostgreSQL database name has at most 63 bytes.") }
        database = name

        if let mode = parameters["sslmode"] {
            guard let known = SSLMode(rawValue: mode) else {
                throw .init(.badSSLMode, "sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(mode.prefix(20))\".")
            }
            sslMode = known
        } else {
            sslMode = Self.isThisMachine(endpoint) ? .prefer : .verifyFull
        }
        rootCertificateFile = parameters["sslrootcert"].flatMap { $0.isEmpty ? nil : $0 }
        if rootCertificateFile != nil, sslMode == .disable || sslMode == .prefer || sslMode == .require {
            throw .init(.badSSLMode, "sslrootcert is only used with sslmode=verify-ca or verify-full.")
        }
        // verify-ca against the system's CAs would accept any publicly certified server (libpq needs a root file too).
        if sslMode == .verifyCA, rootCertificateFile == nil {
            throw .init(.badSSLMode, "sslmode=verify-ca needs sslrootcert=FILE, the CA the database server's certificate comes from.")
        }
        connectTimeoutSeconds = 10
        if let timeout = parameters["connect_timeout"] {
            guard let seconds = Int(timeout), (1...600).contains(seconds) else {
                throw .init(.malformed, "connect_timeout must be a number of seconds from 1 to 600, not \"\(timeout.prefix(20))\".")
            }
            connectTimeoutSeconds = seconds
        }
    }

    static let parameterNames = ["sslmode", "sslrootcert", "host", "connect_timeout"]

    /// The URL as it may be shown and logged: the password replaced.
    public var redacted: String {
        let place: String
        switch endpoint {
        case .tcp(let host, let port): place = (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
        case .unixSocket(let directory, let port): place = "(socket \(directory), port \(port))"
        }
        return "postgresql://\(user)\(password == nil ? "" : ":***")@\(place)/\(database)?sslmode=\(sslMode.rawValue)"
    }

    /// A URL as it may be shown in a message: what stands between `//` and `@` dropped.
    static func redact(_ text: String) -> String {
        guard let start = text.range(of: "://"), let at = text[start.upperBound...].lastIndex(of: "@") else { return String(text.prefix(200)) }
        return String((text[..<start.upperBound] + "…" + text[at...]).prefix(200))
    }

    /// The port as written (URLComponents drops one it cannot read, which must be refused, not defaulted).
    private static func portText(in text: String) -> String? {
        guard let start = text.range(of: "://") else { return nil }
        var authority = text[start.upperBound...]
        if let end = authority.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { authority = authority[..<end] }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") { authority = authority[authority.index(after: close)...] }
        guard let colon = authority.lastIndex(of: ":") else { return nil }
        return String(authority[authority.index(after: colon)...])
    }

    private static func hasWellFormedEscapes(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.count,
                    bytes[index + 1].isHexDigit, bytes[index + 2].isHexDigit
                else { return false }
                index += 3
            } else {
                index += 1
            }
        }
        return true
    }

    private static func isThisMachine(_ endpoint: Endpoint) -> Bool {
        switch endpoint {
        case .unixSocket: return true
        case .tcp(let host, _):
            // An address literal only: a name such as 127.db.example.org is somewhere else.
            if host == "localhost" || host == "::1" { return true }
            let parts = host.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { part in part.count <= 3 && part.allSatisfy(\.isASCII) && UInt8(part) != nil }
        }
    }
}

/// Why a database URL was refused; `code` is stable, `message` is for a person.
public struct PostgresLocationError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case tooLong, malformed, unsupportedScheme, unknownParameter, badPort, missingHost, missingUser, missingDatabase, badSSLMode
    }

    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}
