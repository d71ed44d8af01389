import BedsideCore
import CCurl
import Dispatch
import Foundation
import Synchronization

/// How the client may reach a server. Every setting fails closed: anything unverified is refused.
public struct TransportConfiguration: Sendable {
    /// A PEM bundle of CAs to trust instead of the system's (the dev server's `ca.pem`).
    public var caFile: String?
    /// The same as text, when no file is named: the CA certificates remembered with the account.
    public var caCertificates: String?
    /// `sha256//<base64 SPKI hash>`: refuse any server key but this one.
    public var pinnedPublicKey: String?
    public var connectTimeoutSeconds: Int = 10
    public var totalTimeoutSeconds: Int = 60
    /// The largest response body read, counted after decompression (a gzip bomb is small on the wire).
    /// The largest honest answer, a page of 1,000 Observations, is a few MiB.
    public var maximumResponseBytes: Int = 16 << 20
    /// The most header bytes read for one response (status line and every header line). Honest servers send
    /// well under 4 KiB; libcurl itself refuses one line over 100 KiB.
    public var maximumHeaderBytes: Int = 64 << 10

    public init(caFile: String? = nil, pinnedPublicKey: String? = nil) {
        self.caFile = caFile
        self.pinnedPublicKey = pinnedPublicKey
    }
}

/// One HTTP request.
public struct HTTPRequestSpec: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]?

    public init(method: String, url: String, headers: [(String, String)] = [], body: [UInt8]? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// One HTTP response.
public struct HTTPResponseData: Sendable {
    public var status: Int
    /// Header names in lower case, in the order received.
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Bytes sent and received on the wire for this exchange (headers included), for the benchmarks.
    public var bytesSent: Int
    public var bytesReceived: Int

    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.0 == lowered }?.1
    }

    /// The body as JSON, or nil when it is not JSON or builds more than `maximumJSONValues` values.
    public var json: JSONValue? { try? JSONParser.parse(body, maximumValues: Self.maximumJSONValues) }

    /// What one answer may build in memory: a page of 1,000 resources of a few hundred values each fits
    /// many times over, while 16 MiB of `{},` (5.6 million values, about 270 MiB parsed) does not.
    public static let maximumJSONValues = 1_000_000
}

/// Why a request did not get an answer; each carries what the user should read.
public enum TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not https, or otherwise a URL we will not use.
    case insecureURL(String)
    /// The server's certificate or key did not verify: a wrong CA, host name, expiry or pin.
    case untrustedServer(String)
    /// No connection: the server is down or the network is away.
    case unreachable(String)
    case timedOut
    /// The server sent more than `limitBytes` of body (after decompression); reading stopped there.
    case responseTooLarge(limitBytes: Int)
    /// The server sent more than `limitBytes` of headers, or one header line too long to read.
    case headersTooLarge(limitBytes: Int)
    /// Anything else libcurl reports.
    case failed(String)

    public var description: String {
        switch self {
        case .insecureURL(let detail): "Refused to connect: \(detail)"
        case .untrustedServer(let detail): "The server's identity could not be verified, so nothing was sent (\(detail))."
        case .unreachable(let detail): "The server cannot be reached (\(detail))."
        case .timedOut: "The server did not answer in time."
        case .responseTooLarge(let limit):
            "The server's answer was larger than \(Self.size(limit)), so Bedside stopped reading it."
        case .headersTooLarge(let limit):
            "The server's answer had more than \(Self.size(limit)) of headers, so Bedside stopped reading it."
        case .failed(let detail): "The request failed: \(detail)"
        }
    }

    /// `16 MiB`, `64 KiB`: a limit as people read it.
    public static func size(_ bytes: Int) -> String {
        bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : bytes >= 1 << 10 ? "\(bytes >> 10) KiB" : "\(bytes) bytes"
    }
}

/// HTTPS over libcurl: https only, peer and host verified, TLS 1.2+, no redirects, timeouts, no signals,
/// optional CA file and public-key pin. One connection is kept alive and reused; requests on one
/// transport run one at a time.
public final class HTTPTransport: Sendable {
    public let configuration: TransportConfiguration
    private let handle: Mutex<CurlHandle>
    private let queue = DispatchQueue(label: "bedside.transport")

    public init(configuration: TransportConfiguration) {
        self.configuration = configuration
        _ = CurlGlobal.initialized
        handle = Mutex(CurlHandle())
    }

    /// Closes the kept-alive connection (saying goodbye to the server properly); the next request opens a new one.
    public func closeConnections() {
        handle.withLock { $0 = CurlHandle() }
    }

    /// Sends off the caller's thread; the UI and the server's event loops never wait on the network.
    public func send(_ request: HTTPRequestSpec) async throws(TransportError) -> HTTPResponseData {
        let result: Result<HTTPResponseData, TransportError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(TransportError) {
                    continuation.resume(returning: .success(try self.sendBlocking(request)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Sends on the calling thread.
    public func sendBlocking(_ request: HTTPRequestSpec) throws(TransportError) -> HTTPResponseData {
        guard let url = URL(string: request.url), url.scheme?.lowercased() == "https", url.host != nil else {
            throw .insecureURL("only https:// URLs are allowed, not '\(request.url)'")
        }
        return try handle.withLock { handle throws(TransportError) in
            try handle.perform(request, configuration: configuration)
        }
    }
}

/// libcurl's global set-up, done once.
enum CurlGlobal {
    static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}

/// A libcurl easy handle and the buffers its callbacks fill.
final class CurlHandle: @unchecked Sendable {
    // Only ever used under HTTPTransport's mutex.
    private let easy: UnsafeMutableRawPointer?
    private var responseBody: [UInt8] = []
    private var responseHeaders: [(String, String)] = []
    /// The caps of the exchange in progress, and which one a callback hit (it then aborts the transfer).
    private var bodyLimit = Int.max
    private var headerLimit = Int.max
    private var headerBytes = 0
    private var exceeded: TransportError?
    private var upload: [UInt8] = []
    private var uploadOffset = 0

    init() {
        easy = curl_easy_init()
    }

    deinit {
        if let easy { curl_easy_cleanup(easy) }
    }

    func perform(_ request: HTTPRequestSpec, configuration: TransportConfiguration) throws(TransportError) -> HTTPResponseData {
        guard let easy else { throw .failed("libcurl could not start") }
        curl_easy_reset(easy)
        responseBody.removeAll(keepingCapacity: false)  // an earlier large answer's buffer is not kept around
        responseHeaders.removeAll(keepingCapacity: true)
        bodyLimit = max(0, configuration.maximumResponseBytes)
        headerLimit = max(0, configuration.maximumHeaderBytes)
        headerBytes = 0
        exceeded = nil
        upload = request.body ?? []
        uploadOffset = 0

        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headerList) }
        for (name, value) in request.headers {
            // A header value with a line break would let a caller inject another header.
            guard !name.contains(where: \.isNewline), !value.contains(where: \.isNewline) else { continue }
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        if request.body != nil { headerList = curl_slist_append(headerList, "Expect:") }

        let me = Unmanaged.passUnretained(self).toOpaque()
        var failures: [CURLcode] = []
        func set(_ code: CURLcode) { if code != CURLE_OK { failures.append(code) } }
        set(bedside_curl_setopt_string(easy, CURLOPT_URL, request.url))
        set(bedside_curl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "https"))
        set(bedside_curl_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "https"))
        set(bedside_curl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        // Verified TLS 1.2+, no signals, bounded waits: the one setup the server's mailer uses too.
        set(bedside_curl_secure_defaults(easy, configuration.connectTimeoutSeconds, configuration.totalTimeoutSeconds))
        set(bedside_curl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        // Compressed answers are accepted; the body cap below counts what the write callback gets, which is
        // the decompressed bytes, so a gzip bomb stops at the cap like any other large answer.
        set(bedside_curl_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, ""))
        // An honest Content-Length over the cap is refused before any of the body is read.
        set(bedside_curl_setopt_offset(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(bodyLimit)))
        if let caFile = configuration.caFile {
            set(bedside_curl_setopt_string(easy, CURLOPT_CAINFO, caFile))
        } else if let certificates = configuration.caCertificates {
            let bytes = Array(certificates.utf8)
            set(bytes.withUnsafeBytes { bedside_curl_setopt_blob(easy, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count) })
        }
        if let pin = configuration.pinnedPublicKey { set(bedside_curl_setopt_string(easy, CURLOPT_PINNEDPUBLICKEY, pin)) }
        set(bedside_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList))
        set(bedside_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, me))
        set(bedside_curl_setopt_write_function(easy) { data, size, count, context in
            guard let data, let context else { return 0 }
            let handle = Unmanaged<CurlHandle>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            // Past the cap the transfer is aborted (a short count makes libcurl stop with CURLE_WRITE_ERROR),
            // so an endless or inflating body never grows this buffer beyond the cap.
            guard length <= handle.bodyLimit - handle.responseBody.count else {
                handle.exceeded = .responseTooLarge(limitBytes: handle.bodyLimit)
                return 0
            }
            data.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
                handle.responseBody.append(contentsOf: UnsafeBufferPointer(start: bytes, count: length))
            }
            return length
        })
        set(bedside_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, me))
        set(bedside_curl_setopt_header_function(easy) { data, size, count, context in
            guard let data, let context else { return 0 }
            let handle = Unmanaged<CurlHandle>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            handle.headerBytes += length
            guard handle.headerBytes <= handle.headerLimit else {
                handle.exceeded = .headersTooLarge(limitBytes: handle.headerLimit)
                return 0
            }
            let line = data.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
                String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
            }
            if line.hasPrefix("HTTP/") {
                handle.responseHeaders.removeAll()
            } else if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
                handle.responseHeaders.append((name, value))
            }
            return length
        })
        switch request.method {
        case "GET": set(bedside_curl_setopt_long(easy, CURLOPT_HTTPGET, 1))
        default:
            set(bedside_curl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method))
            if request.body != nil || request.method == "POST" {
                set(bedside_curl_setopt_long(easy, CURLOPT_POST, 1))
                set(bedside_curl_setopt_postfields_size(easy, curl_off_t(upload.count)))
                set(bedside_curl_setopt_pointer(easy, CURLOPT_READDATA, me))
                set(bedside_curl_setopt_read_function(easy) { buffer, size, count, context in
                    guard let buffer, let context else { return 0 }
                    let handle = Unmanaged<CurlHandle>.fromOpaque(context).takeUnretainedValue()
                    let length = min(size * count, handle.upload.count - handle.uploadOffset)
                    handle.upload.withUnsafeBufferPointer { source in
                        if let base = source.baseAddress { memcpy(buffer, base + handle.uploadOffset, length) }
                    }
                    handle.uploadOffset += length
                    return length
                })
                // A kept-alive connection the server (or a proxy) closed meanwhile makes libcurl send the
                // request again on a new one, which needs the body from the start.
                set(bedside_curl_setopt_pointer(easy, CURLOPT_SEEKDATA, me))
                set(bedside_curl_setopt_seek_function(easy) { context, offset, origin in
                    guard let context, origin == SEEK_SET else { return Int32(CURL_SEEKFUNC_CANTSEEK) }
                    let handle = Unmanaged<CurlHandle>.fromOpaque(context).takeUnretainedValue()
                    guard offset >= 0, offset <= handle.upload.count else { return Int32(CURL_SEEKFUNC_FAIL) }
                    handle.uploadOffset = Int(offset)
                    return Int32(CURL_SEEKFUNC_OK)
                })
            }
        }
        if let failed = failures.first {
            throw .failed("libcurl refused an option: \(String(cString: curl_easy_strerror(failed)))")
        }

        let code = errorBuffer.withUnsafeMutableBufferPointer { buffer -> CURLcode in
            _ = bedside_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, buffer.baseAddress)
            let code = curl_easy_perform(easy)
            _ = bedside_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, nil)
            return code
        }
        guard code == CURLE_OK else {
            if let exceeded {
                responseBody = []
                throw exceeded
            }
            if code == CURLE_FILESIZE_EXCEEDED { throw .responseTooLarge(limitBytes: bodyLimit) }
            // libcurl refuses a single header line over 100 KiB with "out of memory" before our callback sees it;
            // while headers are being read (a status line came, no body yet) that is what it means.
            if code == CURLE_OUT_OF_MEMORY, headerBytes > 0, responseBody.isEmpty { throw .headersTooLarge(limitBytes: headerLimit) }
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw Self.classify(code, message)
        }
        var status = 0
        _ = bedside_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var uploaded: curl_off_t = 0
        var downloaded: curl_off_t = 0
        var headerSize = 0
        var requestSize = 0
        _ = bedside_curl_getinfo_offset(easy, CURLINFO_SIZE_UPLOAD_T, &uploaded)
        _ = bedside_curl_getinfo_offset(easy, CURLINFO_SIZE_DOWNLOAD_T, &downloaded)
        _ = bedside_curl_getinfo_long(easy, CURLINFO_HEADER_SIZE, &headerSize)
        _ = bedside_curl_getinfo_long(easy, CURLINFO_REQUEST_SIZE, &requestSize)
        let response = HTTPResponseData(
            status: status, headers: responseHeaders, body: responseBody,
            bytesSent: Int(uploaded) + requestSize, bytesReceived: Int(downloaded) + headerSize)
        upload = []
        // A redirect is never followed; it is reported as the refusal it is.
        if (300...399).contains(status), status != 304 {
            throw .insecureURL("the server answered with a redirect (\(status)), which is never followed")
        }
        return response
    }

    static func classify(_ code: CURLcode, _ message: String) -> TransportError {
        switch code {
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_CERTPROBLEM, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_INVALIDCERTSTATUS:
            return .untrustedServer(message)
        case CURLE_SSL_CONNECT_ERROR:
            // A handshake failure: a plain-http server on the port, or an unacceptable protocol version.
            return .untrustedServer(message)
        case CURLE_UNSUPPORTED_PROTOCOL:
            return .insecureURL(message)
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_SEND_ERROR,
            CURLE_RECV_ERROR, CURLE_GOT_NOTHING:
            return .unreachable(message)
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut
        default:
            return .failed(message)
        }
    }
}
