import CCurl
import Dispatch
import Foundation

/// Where and how to hand mail to a real relay.
public struct SMTPSettings: Sendable {
    /// `smtps://host:465` (implicit TLS) or `smtp://host:587` (STARTTLS, required).
    public var url: String
    public var from: String
    public var username: String?
    public var password: String?
    /// A CA bundle to trust for the relay, when it is not in the system store.
    public var caFile: String?

    public init(url: String, from: String, username: String? = nil, password: String? = nil, caFile: String? = nil) {
        self.url = url
        self.from = from
        self.username = username
        self.password = password
        self.caFile = caFile
    }
}

/// Sends mail through an SMTP relay with libcurl, always over verified TLS.
public struct SMTPMailer: Mailer {
    public let settings: SMTPSettings

    public init(settings: SMTPSettings) {
        self.settings = settings
    }

    public func send(_ message: MailMessage) async throws {
        let text = message.rfc5322(from: settings.from, date: Date(), messageID: UUID().uuidString.lowercased())
        let settings = self.settings
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async {
                do {
                    try Self.deliver(Array(text.utf8), to: message.to, settings: settings)
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// The message bytes and how far libcurl has read them.
    private final class Upload {
        let bytes: [UInt8]
        var offset = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
    }

    private static func deliver(_ bytes: [UInt8], to recipient: String, settings: SMTPSettings) throws {
        guard settings.url.hasPrefix("smtps://") || settings.url.hasPrefix("smtp://") else {
            throw MailError.deliveryFailed("the SMTP URL must start with smtps:// or smtp://")
        }
        guard let handle = curl_easy_init() else { throw MailError.deliveryFailed("libcurl could not start") }
        defer { curl_easy_cleanup(handle) }
        var recipients: UnsafeMutablePointer<curl_slist>? = nil
        recipients = curl_slist_append(recipients, "<\(recipient)>")
        defer { curl_slist_free_all(recipients) }
        let upload = Upload(bytes)
        let box = Unmanaged.passRetained(upload)
        defer { box.release() }

        var results: [CURLcode] = []
        results.append(bedside_curl_setopt_string(handle, CURLOPT_URL, settings.url))
        results.append(bedside_curl_setopt_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)))
        // The same TLS policy as the app's HTTPS (CCurl's one setup): verified, TLS 1.2+, bounded.
        results.append(bedside_curl_secure_defaults(handle, 10, 30))
        results.append(bedside_curl_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(address(of: settings.from))>"))
        results.append(bedside_curl_setopt_slist(handle, CURLOPT_MAIL_RCPT, recipients))
        if let caFile = settings.caFile { results.append(bedside_curl_setopt_string(handle, CURLOPT_CAINFO, caFile)) }
        if let username = settings.username { results.append(bedside_curl_setopt_string(handle, CURLOPT_USERNAME, username)) }
        if let password = settings.password { results.append(bedside_curl_setopt_string(handle, CURLOPT_PASSWORD, password)) }
        results.append(bedside_curl_setopt_long(handle, CURLOPT_UPLOAD, 1))
        results.append(bedside_curl_setopt_pointer(handle, CURLOPT_READDATA, box.toOpaque()))
        results.append(bedside_curl_setopt_read_function(handle) { buffer, size, count, userdata in
            guard let buffer, let userdata else { return 0 }
            let upload = Unmanaged<Upload>.fromOpaque(userdata).takeUnretainedValue()
            let length = min(size * count, upload.bytes.count - upload.offset)
            upload.bytes.withUnsafeBufferPointer { source in
                guard let base = source.baseAddress else { return }
                memcpy(buffer, base + upload.offset, length)
            }
            upload.offset += length
            return length
        })
        if let failed = results.first(where: { $0 != CURLE_OK }) {
            throw MailError.deliveryFailed("libcurl refused an option: \(String(cString: curl_easy_strerror(failed)))")
        }
        let result = curl_easy_perform(handle)
        guard result == CURLE_OK else {
            throw MailError.deliveryFailed(String(cString: curl_easy_strerror(result)))
        }
    }

    /// `Name <a@b>` -> `a@b`.
    static func address(of sender: String) -> String {
        if let open = sender.lastIndex(of: "<"), let close = sender.lastIndex(of: ">"), open < close {
            return String(sender[sender.index(after: open)..<close])
        }
        return sender
    }
}
