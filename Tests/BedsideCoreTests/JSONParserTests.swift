import Testing

@testable import BedsideCore

@Suite("JSON")
struct JSONParserTests {
    @Test("numbers keep their written precision and members their order")
    func faithfulRoundTrip() throws {
        let text = #"{"resourceType":"Observation","valueQuantity":{"value":72.50,"unit":"kg"},"z":1e-3,"a":[true,false,null,-0]}"#
        let value = try JSONParser.parse(text)
        #expect(value.serializedString() == text)
        #expect(value["valueQuantity"]?["value"]?.doubleValue == 72.5)
        #expect(value.objectValue?.keys == ["resourceType", "valueQuantity", "z", "a"])
    }

    @Test("escapes and non-ASCII text survive, control characters are written escaped")
    func strings() throws {
        let value = try JSONParser.parse(#""caf\u00e9 \ud83d\ude00 \"q\" \\ \n\t/ Zürich""#)
        #expect(value.stringValue == "café 😀 \"q\" \\ \n\t/ Zürich")
        #expect(JSONValue.string("a\u{1B}[31mb").serializedString() == #""a\u001b[31mb""#)
        #expect(try JSONParser.parse(JSONValue.string("line\nbreak\u{7F}").serializedString()).stringValue == "line\nbreak\u{7F}")
    }

    @Test(
        "malformed input is refused with a position",
        arguments: [
            "", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "01", "1.", "-", "tru", "\"unterminated", "{\"a\":1}{",
            "\"\\x\"", "\"\\ud800\"", "{\"a\":1,\"a\":2}", "[1 2]", "{'a':1}", "\"tab\there\"", "NaN",
        ])
    func malformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test("deep nesting is refused instead of exhausting the stack")
    func nestingLimit() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: Never.self) { try JSONParser.parse(fine) }
    }

    @Test("invalid UTF-8 is refused")
    func invalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test("objects: replacing keeps the place, nil removes")
    func objectEditing() {
        var object: JSONObject = ["a": 1, "b": 2, "c": 3]
        object["b"] = "two"
        object["a"] = nil
        object["d"] = 4
        #expect(JSONValue.object(object).serializedString() == #"{"b":"two","c":3,"d":4}"#)
    }
}

@Suite("JSON value budget")
struct JSONValueBudgetTests {
    @Test("a document building more values than allowed is refused with where reading stopped; one at the limit is read")
    func valueBudget() throws {
        let text = "[" + Array(repeating: "{}", count: 9).joined(separator: ",") + "]"
        #expect(try JSONParser.parse(Array(text.utf8), maximumValues: 10).arrayValue?.count == 9)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(text.utf8), maximumValues: 9) }
        #expect(try JSONParser.parse(Array(text.utf8)).arrayValue?.count == 9)
    }
}

@Suite("JSON pretty printer")
struct JSONPrettyPrinterTests {
    @Test("indents compact JSON in one pass: the same value, strings untouched, empty containers kept short")
    func indents() throws {
        let text = #"{"a":[1,{"b":"x, {y}: \"z\" \\"}],"c":{},"d":[]}"#
        let pretty = String(decoding: JSONPrettyPrinter.indent(Array(text.utf8)), as: UTF8.self)
        #expect(pretty == "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"x, {y}: \\\"z\\\" \\\\\"\n    }\n  ],\n  \"c\": {},\n  \"d\": []\n}\n")
        #expect(try JSONParser.parse(Array(pretty.utf8)) == JSONParser.parse(Array(text.utf8)))
    }

    @Test("deep nesting indents no further than 16 levels; text over 1 MiB comes back as it was")
    func bounded() throws {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        let nested = String(repeating: "[", count: 100) + "1" + String(repeating: "]", count: 100)
        let pretty = JSONPrettyPrinter.indent(Array(nested.utf8))
        #expect(pretty.count < nested.count * 40, "\(pretty.count) bytes")
        #expect(try JSONParser.parse(pretty) == JSONParser.parse(Array(nested.utf8)))
        #expect(JSONPrettyPrinter.indent(Array(deep.utf8)).count > 0)
        let large = Array(("[" + String(repeating: "1,", count: 600_000) + "1]").utf8)
        #expect(JSONPrettyPrinter.indent(large) == large)
    }
}
