import Foundation
import Hummingbird
import Logging

/// Answers 429 with `Retry-After` once a session (bearer token) or, before login, an address has used up
/// its budget (`ServerConfiguration.rateLimit`). It runs before authentication: throttling exists to
/// spare the store, so it must not cost a database read.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = BedsideRequestContext
    let routes: ServerRoutes

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let key = Self.key(
            path: request.uri.path, authorization: request.headers[.authorization], remoteAddress: context.remoteAddress,
            isKnownSession: routes.auth.knownSessions.contains)
        // A session's budget is the configured one; an address's is that and the default one for
        // callers nobody knows yet.
        var limiters = [routes.rateLimiter].compactMap { $0 }
        if key.hasPrefix("address:"), let addressLimiter = routes.addressLimiter { limiters.append(addressLimiter) }
        var refusal: (seconds: Int, firstRefusal: Bool)?
        for limiter in limiters {
            if case .throttled(let seconds, let firstRefusal) = limiter.check(key) {
                refusal = (seconds, firstRefusal)
                break
            }
        }
        guard let (seconds, firstRefusal) = refusal else {
            return try await next(request, context)
        }
        if firstRefusal {
            // Once per flood, not per refused request: the request log already has a line for each.
            // Who the token belongs to is unknown here (finding out would cost the read throttling saves).
            routes.logger.notice(
                "throttled",
                metadata: [
                    "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "peer": "\(context.remoteAddress ?? "-")",
                    "retryAfter": "\(seconds)",
                ])
            await routes.fhir.auditRecorder.record(
                AuditEvent(
                    at: routes.clock.now(), actorID: nil, actorRole: nil, action: "throttled", outcome: "failure", httpStatus: 429,
                    remoteAddress: context.remoteAddress, request: "\(request.method.rawValue) \(request.uri.path)"))
        }
        return routes.error(.throttled(retryAfterSeconds: seconds))
    }

    /// The session's token (hashed: the limiter keeps no secrets) once it has been seen to be valid, or
    /// the peer address: for the login endpoints, for requests without a token, and for tokens never seen
    /// valid, or inventing tokens would buy fresh budgets.
    static func key(path: String, authorization: String?, remoteAddress: String?, isKnownSession: (String) -> Bool) -> String {
        let isLogin = path == "/auth/login" || path == "/auth/otp"
        if !isLogin, let authorization, authorization.lowercased().hasPrefix("bearer ") {
            let token = authorization.dropFirst(7).trimmingCharacters(in: .whitespaces)
            let hash = Secrets.sha256Hex(token)
            if !token.isEmpty, isKnownSession(hash) { return "session:" + hash }
        }
        return "address:" + (remoteAddress.map(AddressRange.budgetKey) ?? "-")
    }
}
