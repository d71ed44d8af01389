import BedsideCore
import Foundation
import Hummingbird
import Logging

/// The HTTP surface of DESIGN.md's server API: `/auth/*` and `/fhir/*`.
struct ServerRoutes: Sendable {
    static let bodyLimit = ServerLimits.bodyBytes
    static let fhirContentType = "application/fhir+json; charset=utf-8"

    let auth: AuthService
    let fhir: FHIRService
    /// SMART Backend Services: the token endpoint for registered systems.
    let backend: BackendServices
    /// Bulk Data `$export`, for backend clients.
    let exports: BulkExports
    let clock: any WallClock
    let publicBaseURL: String?
    /// nil: no request budget (`ServerConfiguration.rateLimit`).
    let rateLimiter: RateLimiter?
    let addresses: ClientAddressResolver
    /// Requests budgeted by address (no token, or one never seen valid): on by default.
    let addressLimiter: RateLimiter?
    let refusals = RefusalSampler()
    let logger: Logger

    func build() -> Router<BedsideRequestContext> {
        let router = Router(context: BedsideRequestContext.self)
        router.add(middleware: ClientAddressMiddleware(addresses: addresses))
        router.add(middleware: RequestLogMiddleware(logger: logger))
        // Content negotiation first: the `_pretty` it reads also covers the router's own 404s and 405s.
        router.add(middleware: ContentNegotiationMiddleware(routes: self))
        router.add(middleware: OutcomeMiddleware(routes: self))
        if rateLimiter != nil || addressLimiter != nil { router.add(middleware: RateLimitMiddleware(routes: self)) }
        router.post("/auth/login") { request, context in await self.handle(request, context) { try await self.login(request, context) } }
        router.post("/auth/otp") { request, context in await self.handle(request, context) { try await self.otp(request, context) } }
        router.post("/auth/logout") { request, context in await self.handle(request, context) { try await self.logout(request, context) } }
        router.post("/auth/token") { request, context in await self.token(request, context) }
        router.post("/auth/enrol") { request, context in await self.handle(request, context) { try await self.enrol(request, context) } }
        router.get("/fhir/metadata") { request, context in
            await self.handle(request, context) { self.json(.ok, CapabilityStatement.make(baseURL: self.baseURL(request), now: self.clock.now()).serialized()) }
        }
        router.post("/fhir") { request, context in await self.handle(request, context) { try await self.postBundle(request, context) } }
        router.get("/fhir/:type") { request, context in await self.handle(request, context) { try await self.search(request, context) } }
        router.post("/fhir/:type") { request, context in await self.handle(request, context) { try await self.create(request, context) } }
        router.get("/fhir/:type/:id") { request, context in await self.handle(request, context) { try await self.read(request, context, version: nil) } }
        // Under `:type`, not a literal `Patient`: a literal branch would hide `/fhir/Patient/:id` from reads.
        router.get("/fhir/:type/:id/$everything") { request, context in
            await self.handle(request, context) {
                guard context.parameters.get("type") == "Patient" else {
                    throw ServerError.notFound("$everything is an operation on Patient only (GET /fhir/Patient/[id]/$everything).")
                }
                let info = try await self.info(request, context)
                let answer = try await self.fhir.everything(
                    patientID: context.parameters.get("id") ?? "", parameters: SearchRequest.parameters(query: request.uri.query), info: info)
                return self.respond(answer)
            }
        }
        router.get("/fhir/:type/:id/_history/:version") { request, context in
            await self.handle(request, context) {
                guard let version = context.parameters.get("version").flatMap(Int.init) else {
                    throw ServerError.notFound("No such version.")
                }
                return try await self.read(request, context, version: version)
            }
        }
        addBulkRoutes(to: router)
        router.put("/fhir/:type/:id") { request, context in await self.handle(request, context) { try await self.update(request, context) } }
        for method in [HTTPRequest.Method.delete, .patch] {
            router.on("/fhir/:type/:id", method: method) { request, context in
                await self.handle(request, context) {
                    throw ServerError.methodNotAllowed("\(method.rawValue) is not supported; mark a measurement entered-in-error with PUT instead.")
                }
            }
        }
        // The other methods at paths that exist: 405 with Allow (the middleware adds it), not 404.
        let unsupported: [(String, [HTTPRequest.Method])] = [
            ("/fhir", [.get, .put, .delete, .patch]), ("/fhir/metadata", [.post, .put, .delete, .patch]),
            ("/fhir/:type", [.put, .delete, .patch]), ("/fhir/:type/:id", [.post]),
        ]
        for (path, methods) in unsupported {
            for method in methods {
                router.on(RouterPath(stringLiteral: path), method: method) { request, context in
                    await self.handle(request, context) {
                        throw ServerError.methodNotAllowed("\(method.rawValue) is not supported at \(request.uri.path); see /fhir/metadata.")
                    }
                }
            }
        }
        return router
    }

    // MARK: Plumbing

    /// Runs a handler, turning every failure into an OperationOutcome answer, and every refusal into a
    /// line in the audit trail (naming the caller when the token was good).
    func handle(_ request: Request, _ context: BedsideRequestContext, _ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let error as ServerError {
            await recordRefusal(error, request, context)
            return self.error(error)
        } catch {
            logger.error("unexpected error", metadata: ["error": "\(error)"])
            await recordRefusal(.storage(error), request, context)
            return self.error(.storage(error))
        }
    }

    /// The login endpoints audit their own outcomes (with the account they concern); everything else
    /// refused is recorded here.
    func recordRefusal(_ error: ServerError, _ request: Request, _ context: BedsideRequestContext) async {
        let path = request.uri.path
        guard path != "/auth/login", path != "/auth/otp", path != "/auth/enrol" else { return }
        let caller = context.caller.value
        let now = clock.now()
        guard caller != nil || refusals.shouldRecord(address: context.remoteAddress, action: "\(error.status)", at: now) else { return }
        let action: String
        switch error {
        case .unauthenticated: action = "token-refused"
        case .storage: action = "failed"
        default: action = "refused"
        }
        await fhir.auditRecorder.record(
            AuditEvent(
                at: now, actorID: caller?.accountID, actorRole: caller?.role.rawValue, action: action,
                resourceType: context.parameters.get("type").flatMap { SupportedResource(rawValue: $0)?.rawValue },
                outcome: "failure", httpStatus: error.status, remoteAddress: context.remoteAddress, request: requestLine(request)))
    }

    func error(_ error: ServerError) -> Response {
        var headers = HTTPFields()
        if let seconds = error.retryAfterSeconds { headers[.retryAfter] = String(seconds) }
        switch error {
        case .unauthenticated: headers[.wwwAuthenticate] = "Bearer realm=\"bedside\""
        case .storage(let underlying): logger.error("storage failure", metadata: ["error": "\(underlying)"])
        default: break
        }
        return json(.init(code: error.status), error.outcome.json.serialized(), headers: headers)
    }

    /// `_pretty=true` on the request being answered: its JSON is written indented (set by
    /// `ContentNegotiationMiddleware` around the whole handler, so every answer, errors too, honours it;
    /// an answer over `JSONPrettyPrinter.maximumBytes` stays compact).
    @TaskLocal static var prettyPrinting = false

    func json(_ status: HTTPResponse.Status, _ bytes: [UInt8], headers: HTTPFields = [:], contentType: String = fhirContentType) -> Response {
        var bytes = bytes
        if Self.prettyPrinting { bytes = JSONPrettyPrinter.indent(bytes) }
        var headers = headers
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-store"
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        headers[.init("Strict-Transport-Security")!] = "max-age=31536000"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private func baseURL(_ request: Request) -> String {
        if let publicBaseURL { return publicBaseURL.hasSuffix("/") ? String(publicBaseURL.dropLast()) + "/fhir" : publicBaseURL + "/fhir" }
        // The Host header names how the client reached us; keep only characters a host:port may hold.
        let host = (request.head.authority ?? "localhost")
            .filter { $0.isLetter || $0.isNumber || "-.:[]".contains($0) }
        return "https://\(host.isEmpty ? "localhost" : host)/fhir"
    }

    private func requestLine(_ request: Request) -> String {
        "\(request.method.rawValue) \(request.uri.path)"
    }

    static let jsonMediaTypes: Set<String> = ["application/fhir+json", "application/json"]

    private func readBody(
        _ request: Request, limit: Int = ServerRoutes.bodyLimit, mediaTypes: Set<String> = ServerRoutes.jsonMediaTypes
    ) async throws(ServerError) -> [UInt8] {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw .tooLarge(limit: limit)
        }
        if let type = request.headers[.contentType]?.lowercased() {
            let media = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard mediaTypes.contains(media) else {
                throw .unsupportedMediaType(
                    mediaTypes == Self.jsonMediaTypes ? "Send JSON: Content-Type application/fhir+json." : "Send Content-Type \(mediaTypes.sorted().joined(separator: " or ")).")
            }
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            throw .tooLarge(limit: limit)
        } catch {
            throw .badRequest("The request body could not be read.")
        }
    }

    func info(_ request: Request, _ context: BedsideRequestContext) async throws(ServerError) -> RequestInfo {
        let principal = try await auth.authenticate(authorization: request.headers[.authorization])
        context.caller.set(principal)
        return RequestInfo(
            principal: principal, remoteAddress: context.remoteAddress, request: requestLine(request), baseURL: baseURL(request))
    }

    private func resourceHeaders(_ resource: StoredResource) -> HTTPFields {
        var headers = HTTPFields()
        headers[.eTag] = ETag.make(version: resource.versionID)
        headers[.lastModified] = HTTPDate.format(epochMilliseconds: resource.lastUpdated)
        return headers
    }

    // MARK: Auth

    /// A login endpoint's small body, read in passing: before login nobody gets the body-reading worker.
    private func jsonObject(_ bytes: [UInt8]) throws(ServerError) -> JSONValue {
        let value = try FHIRService.parseResource(bytes)
        guard value.objectValue != nil else { throw .badRequest("The body must be a JSON object.") }
        return value
    }

    private func login(_ request: Request, _ context: BedsideRequestContext) async throws -> Response {
        let body = try jsonObject(try await readBody(request, limit: ServerLimits.authBodyBytes))
        guard let username = body["username"]?.stringValue, let password = body["password"]?.stringValue,
            !username.isEmpty, username.count <= 320, password.count <= 1024
        else { throw ServerError.badRequest("Send {\"username\": ..., \"password\": ...}.") }
        let issued = try await auth.login(
            username: username, password: password, remoteAddress: context.remoteAddress, request: requestLine(request),
            acceptLanguage: request.headers[.acceptLanguage])
        let answer: JSONValue = ["challenge": .string(issued.challengeID), "expiresIn": .number(issued.expiresIn)]
        return json(.accepted, answer.serialized(), contentType: "application/json")
    }

    private func otp(_ request: Request, _ context: BedsideRequestContext) async throws -> Response {
        let body = try jsonObject(try await readBody(request, limit: ServerLimits.authBodyBytes))
        guard let challenge = body["challenge"]?.stringValue, let code = body["code"]?.stringValue,
            challenge.count <= 64, code.count <= 16
        else { throw ServerError.badRequest("Send {\"challenge\": ..., \"code\": ...}.") }
        let session = try await auth.verifyCode(
            challengeID: challenge, code: code, remoteAddress: context.remoteAddress, request: requestLine(request))
        return sessionAnswer(session)
    }

    /// `POST /auth/enrol {"username","code","password"}`: an invited patient's first login.
    private func enrol(_ request: Request, _ context: BedsideRequestContext) async throws -> Response {
        let body = try jsonObject(try await readBody(request, limit: ServerLimits.authBodyBytes))
        guard let username = body["username"]?.stringValue, let code = body["code"]?.stringValue, let password = body["password"]?.stringValue,
            username.count <= 320, code.count <= 64, password.count <= 1024
        else { throw ServerError.badRequest("Send {\"username\": ..., \"code\": ..., \"password\": ...}.") }
        let session = try await auth.enrol(
            username: username, code: code, password: password, remoteAddress: context.remoteAddress, request: requestLine(request))
        return sessionAnswer(session)
    }

    /// What `/auth/otp` and `/auth/enrol` answer: the session.
    private func sessionAnswer(_ session: AuthService.SessionIssued) -> Response {
        var answer: JSONObject = [
            "accessToken": .string(session.accessToken),
            "tokenType": "Bearer",
            "expiresIn": .number(session.expiresIn),
            "idleTimeout": .number(session.idleTimeout),
            "role": .string(session.account.role.rawValue),
        ]
        if let patient = session.account.patientID { answer["patient"] = .string(patient) }
        if let practitioner = session.account.practitionerID { answer["practitioner"] = .string(practitioner) }
        return json(.ok, JSONValue.object(answer).serialized(), contentType: "application/json")
    }

    private func logout(_ request: Request, _ context: BedsideRequestContext) async throws -> Response {
        let principal = try await auth.authenticate(authorization: request.headers[.authorization])
        context.caller.set(principal)
        try await auth.logout(principal, remoteAddress: context.remoteAddress, request: requestLine(request))
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    // MARK: SMART Backend Services

    /// This server's token endpoint, as the assertions' `aud` must name it.
    private func tokenURL(_ request: Request) -> String {
        String(baseURL(request).dropLast("/fhir".count)) + "/auth/token"
    }

    /// `POST /auth/token`: a form in, an OAuth answer out (not an OperationOutcome: OAuth clients read
    /// `error`), never cached.
    private func token(_ request: Request, _ context: BedsideRequestContext) async -> Response {
        let headers: HTTPFields = [.cacheControl: "no-store", .init("Pragma")!: "no-cache"]
        let answer: JSONValue
        let status: HTTPResponse.Status
        do {
            let body: [UInt8]
            do {
                body = try await readBody(request, limit: 32 << 10, mediaTypes: ["application/x-www-form-urlencoded"])
            } catch {
                throw OAuthError(code: .invalidRequest, description: error.outcome.issues.first?.diagnostics ?? "The request could not be read.")
            }
            let form = FormBody.parameters(String(decoding: body, as: UTF8.self))
            let grant = try await backend.issueToken(
                form: form, tokenURL: tokenURL(request), remoteAddress: context.remoteAddress, request: requestLine(request))
            answer = grant.json
            status = .ok
        } catch let error as OAuthError {
            answer = error.json
            status = .init(code: error.status)
        } catch {
            answer = OAuthError(code: .invalidRequest, description: "The request could not be handled.").json
            status = .badRequest
        }
        return json(status, answer.serialized(), headers: headers, contentType: "application/json")
    }

    // MARK: FHIR

    private func search(_ request: Request, _ context: BedsideRequestContext) async throws -> Response {
        if context.parameters.get("type") == "StructureDefinition" { return json(.ok, CapabilityStatement.extensionDefinitions(baseURL: baseURL(request), now: clock.now())) }
        // `$export` at the server's level (Bulk Data), under `:type` for the trie's sake.
        if context.parameters.get("type") == "$export" { return try await kickOff(.system, request, context) }
        let info = try await info(request, context)
        let answer = try await fhir.search(
            type: context.parameters.get("type") ?? "", parameters: SearchRequest.parameters(query: request.uri.query),
            ifNoneMatch: request.headers[.ifNoneMatch], info: info)
        return respond(answer)
    }

    private func read(_ request: Request, _ context: BedsideRequestContext, version: Int?) async throws -> Response {
        // SMART's discovery document is public, under the FHIR base (App Launch 2.x).
        if context.parameters.get("type") == ".well-known", version == nil {
            guard context.parameters.get("id") == "smart-configuration" else { throw ServerError.notFound("There is nothing at \(request.uri.path).") }
            return json(.ok, BackendServices.configuration(tokenURL: tokenURL(request)).serialized(), contentType: "application/json")
        }
        // The StructureDefinitions of Bedside's extensions are public, as the CapabilityStatement is.
        if context.parameters.get("type") == "StructureDefinition", version == nil {
            guard let known = BedsideExtension.named(id: context.parameters.get("id") ?? "") else {
                throw ServerError.notFound("StructureDefinition/\(context.parameters.get("id") ?? "") was not found.")
            }
            return json(.ok, known.structureDefinition.serialized())
        }
        if context.parameters.get("type") == "Patient", context.parameters.get("id") == "$export", version == nil {
            return try await kickOff(.patient, request, context)
        }
        let info = try await info(request, context)
        let answer = try await fhir.read(
            type: context.parameters.get("type") ?? "", id: context.parameters.get("id") ?? "", version: version,
            parameters: SearchRequest.parameters(query: request.uri.query), ifNoneMatch: request.headers[.ifNoneMatch], info: info)
        return respond(answer)
    }

    /// 200 with the body, or 304 with only the validators.
    func respond(_ answer: ReadAnswer) -> Response {
        var headers = HTTPFields()
        headers[.eTag] = answer.etag
        if let lastModified = answer.lastModified { headers[.lastModified] = HTTPDate.format(epochMilliseconds: lastModified) }
        guard let body = answer.body else { return Response(status: .notModified, headers: headers) }
        return json(.ok, body, headers: headers)
    }

    private func create(_ request: Request, _ context: BedsideRequestContext) async throws -> Response {
        let info = try await info(request, context)
        let body = try await readBody(request)
        let result = try await fhir.create(
            type: context.parameters.get("type") ?? "", body: body, ifNoneExist: request.headers[.init("If-None-Exist")!],
            info: info)
        var headers = resourceHeaders(result.resource)
        headers[.location] = "\(info.baseURL)/\(result.resource.type)/\(result.resource.id)/_history/\(result.resource.versionID)"
        return json(result.created ? .created : .ok, result.resource.json, headers: headers)
    }

    private func update(_ request: Request, _ context: BedsideRequestContext) async throws -> Response {
        let info = try await info(request, context)
        let body = try await readBody(request)
        let resource = try await fhir.update(
            type: context.parameters.get("type") ?? "", id: context.parameters.get("id") ?? "", body: body,
            ifMatch: request.headers[.ifMatch], info: info)
        return json(.ok, resource.json, headers: resourceHeaders(resource))
    }

    /// A transaction or a batch; both answer 200 with a Bundle saying how each entry went.
    private func postBundle(_ request: Request, _ context: BedsideRequestContext) async throws -> Response {
        let info = try await info(request, context)
        let body = try await readBody(request)
        let prefer = request.headers[.init("Prefer")!]?.contains("return=representation") ?? false
        let bytes = try await fhir.postBundle(body: body, preferRepresentation: prefer, info: info)
        return json(.ok, bytes)
    }
}

/// Turns the router's own failures (no such path, method not allowed) into OperationOutcomes,
/// so every error a client sees has the same shape.
struct OutcomeMiddleware: RouterMiddleware {
    typealias Context = BedsideRequestContext
    let routes: ServerRoutes

    /// The methods a path takes, for the `Allow` header of a 405 (RFC 9110 §15.5.6).
    static func allowedMethods(path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        switch (parts.first, parts.count) {
        case ("auth", _): return "POST"
        case ("bulk", 2): return "GET, DELETE"
        case ("fhir", 1): return "POST"
        case ("fhir", 2): return parts[1] == "metadata" ? "GET" : "GET, POST"
        case ("fhir", 3): return "GET, PUT"
        default: return "GET"
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            var response = try await next(request, context)
            if response.status == .methodNotAllowed, response.headers[.allow] == nil {
                response.headers[.allow] = Self.allowedMethods(path: request.uri.path)
            }
            return response
        } catch let error as HTTPResponseError where error.status == .notFound {
            let refusal = ServerError.notFound("There is nothing at \(request.method.rawValue) \(request.uri.path). See /fhir/metadata.")
            await routes.recordRefusal(refusal, request, context)
            return routes.error(refusal)
        } catch let error as HTTPResponseError where error.status == .methodNotAllowed {
            let refusal = ServerError.methodNotAllowed("\(request.method.rawValue) is not supported at \(request.uri.path).")
            await routes.recordRefusal(refusal, request, context)
            var response = routes.error(refusal)
            response.headers[.allow] = Self.allowedMethods(path: request.uri.path)
            return response
        }
    }
}

/// The FHIR API writes JSON only: `_format=xml` or an `Accept` that takes no JSON is answered 406
/// with an OperationOutcome, rather than with JSON the client did not ask for. `_pretty=true` has the
/// answer written indented.
struct ContentNegotiationMiddleware: RouterMiddleware {
    typealias Context = BedsideRequestContext
    let routes: ServerRoutes

    /// `_format` values and media types that mean FHIR JSON (R4 3.1.0.1.10).
    static let json: Set<String> = ["json", "application/json", "application/fhir+json", "*/*", "application/*"]

    /// Why the request asks for something else than JSON; nil when JSON will do.
    static func refusal(format: String?, accept: String?) -> ServerError? {
        if let format {
            let wanted = format.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            if !json.contains(wanted) {
                return .notAcceptable("_format=\(format.prefix(60)) is not a format this server writes; it answers in FHIR JSON only (_format=json).")
            }
            return nil
        }
        guard let accept, !accept.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        let types = accept.split(separator: ",").map { range -> (type: String, quality: String?) in
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            return (parts.first ?? "", parts.dropFirst().first { $0.hasPrefix("q=") })
        }
        // A media type with q=0 is one the client refuses.
        if types.contains(where: { json.contains($0.type) && !["q=0", "q=0.0", "q=0.00", "q=0.000"].contains($0.quality ?? "") }) { return nil }
        return .notAcceptable("Accept: \(accept.prefix(80)) takes no JSON; this server answers in FHIR JSON only (application/fhir+json).")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/fhir") else { return try await next(request, context) }
        let pretty = request.uri.queryParameters.get("_pretty") == "true"
        return try await ServerRoutes.$prettyPrinting.withValue(pretty) {
            guard let refusal = Self.refusal(format: request.uri.queryParameters.get("_format"), accept: request.headers[.accept]) else {
                return try await next(request, context)
            }
            await routes.recordRefusal(refusal, request, context)
            return routes.error(refusal)
        }
    }
}

/// Puts the client's address in the context: behind a trusted proxy, the one it forwarded.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = BedsideRequestContext
    let addresses: ClientAddressResolver

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !addresses.trustedProxies.isEmpty else { return try await next(request, context) }
        var context = context
        context.remoteAddress = addresses.clientAddress(
            peer: context.remoteAddress, forwardedFor: request.headers[.init("X-Forwarded-For")!])
        return try await next(request, context)
    }
}

/// Logs one structured line per request: method, path (never the query or body), status, time.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = BedsideRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        logger.info(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
                "ms": "\(String(format: "%.1f", milliseconds))", "peer": "\(context.remoteAddress ?? "-")",
            ])
        return response
    }
}
