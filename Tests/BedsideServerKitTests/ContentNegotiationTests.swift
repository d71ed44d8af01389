import BedsideCore
import Testing

@testable import BedsideServerKit

/// The FHIR API answers in JSON only, and says so with a 406 when asked for anything else.
@Suite("Content negotiation")
struct ContentNegotiationTests {
    @Test("_format and Accept: JSON in any of its spellings passes; XML, HTML alone or JSON refused with q=0 gets 406")
    func rules() {
        for format in ["json", "application/json", "application/fhir+json", "application/fhir+json; fhirVersion=4.0", "JSON"] {
            #expect(ContentNegotiationMiddleware.refusal(format: format, accept: nil) == nil, "\(format)")
        }
        for format in ["xml", "application/fhir+xml", "text/turtle", "ttl", ""] {
            #expect(ContentNegotiationMiddleware.refusal(format: format, accept: nil)?.status == 406, "\(format)")
        }
        let taken = ["*/*", "application/fhir+json", "application/json;q=0.5, text/html", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", " "]
        for accept in taken { #expect(ContentNegotiationMiddleware.refusal(format: nil, accept: accept) == nil, "\(accept)") }
        for accept in ["application/fhir+xml", "application/xml, text/html", "application/fhir+json;q=0", "text/plain"] {
            #expect(ContentNegotiationMiddleware.refusal(format: nil, accept: accept)?.status == 406, "\(accept)")
        }
    }

    @Test("over the wire: 406 with an OperationOutcome for XML, on metadata, searches and reads; JSON as ever otherwise")
    func wire() async throws {
        try await withServer { server in
            let xml = try await server.request("GET", "/fhir/metadata?_format=xml")
            #expect(xml.status == 406 && xml.issueCode == "not-supported")
            #expect(xml.json?["resourceType"]?.stringValue == "OperationOutcome")
            let accept = try await server.request("GET", "/fhir/metadata", headers: [("Accept", "application/fhir+xml")])
            #expect(accept.status == 406)
            let search = try await server.request("GET", "/fhir/Observation?_format=xml")
            #expect(search.status == 406, "before anything else, even authentication")
            let json = try await server.request("GET", "/fhir/metadata?_format=json", headers: [("Accept", "application/fhir+json")])
            #expect(json.status == 200 && json.json?["resourceType"]?.stringValue == "CapabilityStatement")
        }
    }

    @Test("a method a path does not take gets 405 with Allow naming those it does")
    func methodNotAllowed() async throws {
        try await withServer { server in
            let delete = try await server.request("DELETE", "/fhir/Observation/abc")
            #expect(delete.status == 405 && delete.header("allow") == "GET, PUT")
            let put = try await server.request("PUT", "/fhir/Observation")
            #expect(put.status == 405 && put.header("allow") == "GET, POST", "\(put.status) \(put.header("allow") ?? "-") \(put.text)")
            let metadata = try await server.request("POST", "/fhir/metadata")
            #expect(metadata.status == 405 && metadata.header("allow") == "GET", "\(metadata.status) \(metadata.text)")
        }
        #expect(OutcomeMiddleware.allowedMethods(path: "/auth/login") == "POST")
        #expect(OutcomeMiddleware.allowedMethods(path: "/fhir") == "POST")
    }
}
