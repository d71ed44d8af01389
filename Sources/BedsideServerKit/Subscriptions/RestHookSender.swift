import BedsideCore
import CCurl
import Dispatch
import Foundation

/// How one POST to a rest-hook endpoint ended.
enum DeliveryResult: Sendable, Equatable {
    /// The endpoint answered with this status (2xx is a delivery; anything else a failure).
    case answered(Int)
    /// No answer: the reason in words (certificate, connection, timeout), for the audit and `Subscription.error`.
    case failed(String)

    var delivered: Bool {
        if case .answered(let status) = self { return (200..<300).contains(status) }
        return false
    }

    var reason: String {
        switch self {
        case .answered(let status): "the endpoint answered \(status)"
        case .failed(let reason): reason
        }
    }

    var httpStatus: Int {
        if case .answered(let status) = self { return status }
        return 0
    }
}

/// Posts notifications. A protocol so the dispatcher's retry logic can be driven without a network.
protocol NotificationSending: Sendable {
    func post(_ body: [UInt8], to endpoint: String, headers: [String]) async -> DeliveryResult
}

/// POSTs with libcurl, failing closed: https only (redirects never followed, and only to https), peer
/// and host verified against the system store or `--outbound-ca-file`, TLS 1.2 or newer, 5 s to
/// connect and 15 s in all. The answer's body is read and dropped. libcurl blocks, so each POST runs on
/// its own queue, never on the event loop's threads; the dispatcher bounds how many run at once.
struct RestHookSender: NotificationSending {
    var caFile: String?
    var connectTimeoutSeconds = 5
    var totalTimeoutSeconds = 15
    private static let queue = DispatchQueue(label: "bedside.rest-hook", attributes: .concurrent)

    func post(_ body: [UInt8], to endpoint: String, headers: [String]) async -> DeliveryResult {
        let sender = self
        return await withCheckedContinuation { continuation in
            Self.queue.async { continuation.resume(returning: sender.postNow(body, to: endpoint, headers: headers)) }
        }
    }

    private func postNow(_ body: [UInt8], to endpoint: String, headers: [String]) -> DeliveryResult {
        guard endpoint.lowercased().hasPrefix("https://") else { return .failed("the endpoint is not https") }
        guard let handle = curl_easy_init() else { return .failed("libcurl could not start") }
        defer { curl_easy_cleanup(handle) }
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for header in ["Content-Type: application/fhir+json", "Accept: application/fhir+json", "Expect:"] + headers {
            list = curl_slist_append(list, header)
        }
        defer { curl_slist_free_all(list) }

        var results: [CURLcode] = []
        results.append(bedside_curl_setopt_string(handle, CURLOPT_URL, endpoint))
        results.append(bedside_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "https"))
        results.append(bedside_curl_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "https"))
        results.append(bedside_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        results.append(bedside_curl_secure_defaults(handle, connectTimeoutSeconds, totalTimeoutSeconds))
        if let caFile { results.append(bedside_curl_setopt_string(handle, CURLOPT_CAINFO, caFile)) }
        results.append(bedside_curl_setopt_string(handle, CURLOPT_USERAGENT, "bedside-server/\(BedsideVersion.current)"))
        results.append(bedside_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list))
        results.append(bedside_curl_setopt_long(handle, CURLOPT_POST, 1))
        results.append(bedside_curl_setopt_postfields_size(handle, curl_off_t(body.count)))
        results.append(body.withUnsafeBytes { bytes in
            // COPYPOSTFIELDS: libcurl keeps its own copy, so nothing here must outlive this call.
            bedside_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
        })
        // The receiver's answer is not needed, only its status: read and dropped.
        results.append(bedside_curl_setopt_write_function(handle) { _, size, count, _ in size * count })
        if let refused = results.first(where: { $0 != CURLE_OK }) {
            return .failed("libcurl refused an option: \(String(cString: curl_easy_strerror(refused)))")
        }
        let result = curl_easy_perform(handle)
        guard result == CURLE_OK else { return .failed(Self.describe(result)) }
        var status = 0
        _ = bedside_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .answered(status)
    }

    /// libcurl's failure, as the operator and the EMR read it in `Subscription.error`.
    static func describe(_ code: CURLcode) -> String {
        switch code {
        case CURLE_PEER_FAILED_VERIFICATION: "the endpoint's certificate did not verify"
        case CURLE_SSL_CACERT_BADFILE: "the CA file for outbound connections (--outbound-ca-file) could not be read"
        case CURLE_SSL_CONNECT_ERROR: "the TLS handshake with the endpoint failed"
        case CURLE_OPERATION_TIMEDOUT: "the endpoint did not answer in time"
        case CURLE_COULDNT_CONNECT: "the endpoint refused the connection"
        case CURLE_COULDNT_RESOLVE_HOST: "the endpoint's host name did not resolve"
        case CURLE_UNSUPPORTED_PROTOCOL: "the endpoint is not https"
        default: "the delivery failed: \(String(cString: curl_easy_strerror(code)))"
        }
    }
}
