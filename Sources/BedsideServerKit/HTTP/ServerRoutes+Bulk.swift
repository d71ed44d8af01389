import BedsideCore
import Foundation
import Hummingbird
import NIOCore
import NIOPosix

/// FHIR Bulk Data export's HTTP side (Bulk Data Access IG 2.0): `$export` at system, Patient and
/// Group level answers 202 with a status URL under `/bulk/<job>`; polling it answers 202 with
/// `X-Progress` until the 200 manifest; its files are `/bulk/<job>/<Type>-<n>.ndjson`; DELETE ends it.
extension ServerRoutes {
    func addBulkRoutes(to router: Router<BedsideRequestContext>) {
        router.get("/fhir/:type/:id/$export") { request, context in
            await self.handle(request, context) {
                guard context.parameters.get("type") == "Group", let id = context.parameters.get("id") else {
                    throw ServerError.notFound("$export is an operation on the server, on Patient and on Group/[id] only.")
                }
                return try await self.kickOff(.group(id: id), request, context)
            }
        }
        router.get("/bulk/:job") { request, context in
            await self.handle(request, context) { try await self.exportStatus(request, context) }
        }
        router.delete("/bulk/:job") { request, context in
            await self.handle(request, context) {
                let info = try await self.info(request, context)
                try await self.exports.cancel(jobID: context.parameters.get("job") ?? "", info: info)
                return Response(status: .accepted, headers: [.cacheControl: "no-store"])
            }
        }
        router.get("/bulk/:job/:file") { request, context in
            await self.handle(request, context) { try await self.exportFile(request, context) }
        }
    }

    /// `/fhir` without its last segment: where `/bulk` and `/auth` live.
    func rootURL(_ info: RequestInfo) -> String { String(info.baseURL.dropLast("/fhir".count)) }

    /// A kick-off: 202 with the status URL in Content-Location.
    func kickOff(_ level: ExportRequest.Level, _ request: Request, _ context: BedsideRequestContext) async throws -> Response {
        let info = try await info(request, context)
        let query = request.uri.query.map { "?" + $0 } ?? ""
        let jobID = try await exports.kickOff(
            level: level, parameters: SearchRequest.parameters(query: request.uri.query), prefer: request.headers[.init("Prefer")!],
            requestURL: rootURL(info) + request.uri.path + query, info: info)
        let outcome = OperationOutcome([
            OutcomeIssue(severity: .information, code: "informational", diagnostics: "The export was accepted; poll the Content-Location for its progress.")
        ])
        var headers = HTTPFields()
        headers[.contentLocation] = "\(rootURL(info))/bulk/\(jobID)"
        return json(.accepted, outcome.json.serialized(), headers: headers)
    }

    private func exportStatus(_ request: Request, _ context: BedsideRequestContext) async throws -> Response {
        let info = try await info(request, context)
        let jobID = context.parameters.get("job") ?? ""
        switch try await exports.status(jobID: jobID, info: info) {
        case .inProgress(let progress):
            var headers: HTTPFields = [.retryAfter: "2", .cacheControl: "no-store"]
            headers[.init("X-Progress")!] = String((progress ?? "waiting to start").prefix(100))
            return Response(status: .accepted, headers: headers)
        case .complete(let manifest, let expiresAt):
            var headers = HTTPFields()
            if let expiresAt { headers[.expires] = HTTPDate.format(epochMilliseconds: expiresAt) }
            let body = BulkExports.manifest(manifest, jobID: jobID, rootURL: rootURL(info)).serialized()
            return json(.ok, body, headers: headers, contentType: "application/json")
        case .failed(let reason):
            let outcome = OperationOutcome([OutcomeIssue(severity: .fatal, code: "exception", diagnostics: reason)])
            return json(.internalServerError, outcome.json.serialized())
        }
    }

    private func exportFile(_ request: Request, _ context: BedsideRequestContext) async throws -> Response {
        let info = try await info(request, context)
        let file = try await exports.file(
            jobID: context.parameters.get("job") ?? "", name: context.parameters.get("file") ?? "", info: info)
        let reader = try SealedExportFile.Reader(
            path: file.path, keys: exports.store.keys, job: context.parameters.get("job") ?? "", file: context.parameters.get("file") ?? "")
        // Chunk by chunk (about 1 MiB each): memory stays flat whatever the file's size. A chunk that
        // fails its check ends the response early, which the client sees as a broken transfer.
        let body = ResponseBody { writer in
            while let chunk = try await NIOThreadPool.singleton.runIfActive({ try reader.next() }) {
                if !chunk.isEmpty { try await writer.write(ByteBuffer(bytes: chunk)) }
            }
            try await writer.finish(nil)
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/fhir+ndjson"
        headers[.cacheControl] = "no-store"
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        return Response(status: .ok, headers: headers, body: body)
    }
}
