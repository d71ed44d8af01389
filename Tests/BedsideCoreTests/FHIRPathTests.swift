import Foundation
import Testing

@testable import BedsideCore

/// The FHIRPath engine: the specification's own examples for each family of operators and functions,
/// navigation over FHIR JSON, and the SDC expressions of real scored forms (Tests/Fixtures/Questionnaires).
@Suite("FHIRPath")
struct FHIRPathTests {
    /// 2024-03-10T23:30:00Z.
    static let now: Int64 = 1_710_113_400_000

    static func context(
        _ resource: JSONValue = [:], questionnaire: JSONValue? = nil, variables: [String: [FHIRPathValue]] = [:], offset: Int = 0
    ) -> FHIRPathContext {
        FHIRPathContext(resource: resource, questionnaire: questionnaire, variables: variables, now: now, utcOffsetSeconds: offset)
    }

    static func evaluate(_ expression: String, on resource: JSONValue = [:], variables: [String: [FHIRPathValue]] = [:]) throws -> [FHIRPathValue] {
        try FHIRPathExpression(expression).evaluate(context(resource, variables: variables))
    }

    static func json(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

    /// A Decimal value from its literal; a malformed literal gives a string so the comparison fails.
    static func decimal(_ text: String) -> FHIRPathValue { FHIRPathDecimal(text).map(FHIRPathValue.decimal) ?? .string("not a decimal: \(text)") }

    static func syntaxError(_ expression: String) -> FHIRPathError? {
        do {
            _ = try FHIRPathExpression(expression)
            return nil
        } catch {
            return error
        }
    }

    static func evaluationError(_ expression: String, on resource: JSONValue = [:]) -> FHIRPathError? {
        do {
            _ = try evaluate(expression, on: resource)
            return nil
        } catch let error as FHIRPathError {
            return error
        } catch {
            return nil
        }
    }

    // MARK: - Specification examples: every one of these must evaluate to true

    @Test(
        "operators: precedence and associativity",
        arguments: [
            "1 + 2 * 3 = 7", "(1 + 2) * 3 = 9", "10 - 2 - 3 = 5", "2 * 3 + 4 * 5 = 26", "12 / 2 / 3 = 2",
            "-2 + 5 = 3", "-(2 + 5) = -7", "(-5).abs() = 5", "-5.abs() = -5",
            "true or false and false", "(true or false) and true", "1 < 2 = true", "1 + 2 is Integer", "(1 | 2 | 3).count() = 3",
            "1 | 2 = 1 | 2", "2 in 1 | 2 | 3", "'a' & 'b' + 'c' = 'abc'", "5 > 3 and 2 < 4 implies 1 = 1",
            "false implies false xor true", "1 + 1 = 2 and 2 * 2 = 4", "(1 | 2).where($this > 1) = 2",
        ])
    func precedence(_ expression: String) throws {
        #expect(try Self.evaluate(expression) == [.boolean(true)], "\(expression)")
    }

    @Test(
        "arithmetic: integers, exact decimals, div and mod, strings",
        arguments: [
            "10 div 3 = 3", "10 mod 3 = 1", "-10 div 3 = -3", "-10 mod 3 = -1", "7 / 2 = 3.5", "6 / 2 = 3.0", "5.5 mod 0.7 = 0.6",
            "5.5 div 0.7 = 7", "0.1 + 0.2 = 0.3", "1.1 * 3 = 3.3", "3.0 - 1.25 = 1.75", "(1.0 / 3).round(4) = 0.3333",
            "(2 / 3).round(2) = 0.67", "1.0 = 1", "1.50 = 1.5", "72.50.toString() = '72.50'", "(0.1 + 0.2).toString() = '0.3'",
            "'abc' + 'def' = 'abcdef'", "'abc' & 'def' = 'abcdef'", "('abc' & {}) = 'abc'", "({} & {}) = ''",
            "(3 'kg' + 500 'g') = 3.5 'kg'", "2 'cm' * 3 = 6 'cm'", "(1 'kg' / 500 'g') = 2 '1'", "(10 'kg') > (9000 'g')",
            "1000000000000 * 1000000 = 1000000000000000000", "@2024-01-31 + 1 month = @2024-02-29", "@2024-03-10 - 18 years = @2006-03-10",
            "@2024-01-01T10:00:00Z + 90 minutes = @2024-01-01T11:30:00Z", "@T23:30 + 1 hour = @T00:30", "@2014 + 24 months = @2016",
        ])
    func arithmetic(_ expression: String) throws {
        #expect(try Self.evaluate(expression) == [.boolean(true)], "\(expression)")
    }

    @Test("arithmetic results have FHIRPath types; overflow and division by zero are empty")
    func arithmeticTypes() throws {
        #expect(try Self.evaluate("7 / 2") == [Self.decimal("3.5")])
        #expect(try Self.evaluate("7 div 2") == [.integer(3)])
        #expect(try Self.evaluate("1 + 1.0") == [Self.decimal("2.0")])
        #expect(try Self.evaluate("(1.0 / 3).toString()") == [.string("0.33333333333333333333")])
        #expect(try Self.evaluate("1 / 0").isEmpty)
        #expect(try Self.evaluate("1 div 0").isEmpty)
        #expect(try Self.evaluate("1.5 mod 0").isEmpty)
        #expect(try Self.evaluate("9223372036854775807 + 1").isEmpty)
        #expect(try Self.evaluate("1 + {}").isEmpty)
        #expect(try Self.evaluate("{} * 2").isEmpty)
        #expect(Self.evaluationError("1 + 'a'")?.kind == .evaluation)
        #expect(Self.evaluationError("'a' - 'b'")?.kind == .evaluation)
    }

    @Test(
        "three-valued logic with the empty collection",
        arguments: [
            ("true and {}", nil), ("{} and true", nil), ("false and {}", false), ("{} and false", false), ("{} and {}", nil),
            ("true or {}", true), ("{} or true", true), ("false or {}", nil), ("{} or {}", nil),
            ("true xor {}", nil), ("true xor false", true), ("true xor true", false),
            ("true implies {}", nil), ("false implies {}", true), ("{} implies true", true), ("{} implies false", nil),
            ("true implies false", false), ("{}.not()", nil), ("true.not()", false), ("false.not()", true), ("'x'.not()", false),
        ] as [(String, Bool?)])
    func threeValuedLogic(_ expression: String, _ expected: Bool?) throws {
        #expect(try Self.evaluate(expression) == (expected.map { [.boolean($0)] } ?? []), "\(expression)")
    }

    @Test(
        "equality and equivalence, including dates of different precision",
        arguments: [
            ("1 = 1", true), ("1 = 2", false), ("'a' = 'A'", false), ("'a' ~ 'A'", true), ("'a  b ' ~ 'A B'", true),
            ("1 != 2", true), ("1 !~ 1.0", false), ("(1 | 2) = (1 | 2)", true), ("(1 | 2) = (2 | 1)", false), ("(1 | 2) ~ (2 | 1)", true),
            ("{} = {}", nil), ("{} ~ {}", true), ("1 = {}", nil), ("{} != 1", nil), ("1.2 ~ 1.23", true), ("1.2 = 1.23", false),
            ("@2012 = @2012-01", nil), ("@2012 ~ @2012-01", false), ("@2012-01-01 = @2012-01-01", true), ("@2012-01 = @2012-02-03", false),
            ("@2024-01-01T10:00:00+02:00 = @2024-01-01T08:00:00Z", true), ("@T10:00:00 = @T10:00:00.000", true),
            ("@2024-01-02 > @2024-01-01", true), ("@T10:00 < @T11:00", true), ("@2024-01 < @2024-01-15", nil),
            ("5 'kg' = 5000 'g'", true), ("1 year = 12 months", true), ("7 days = 1 week", true), ("1 'kg' = 1 'm'", nil),
        ] as [(String, Bool?)])
    func equality(_ expression: String, _ expected: Bool?) throws {
        #expect(try Self.evaluate(expression) == (expected.map { [.boolean($0)] } ?? []), "\(expression)")
    }

    @Test(
        "collection functions",
        arguments: [
            "(1 | 2 | 3).count() = 3", "(1 | 1 | 2).count() = 2", "(1).combine(1).count() = 2", "{}.empty()", "(1 | 2).exists()",
            "(1 | 2 | 3).exists($this = 2)", "(1 | 2 | 3).exists($this > 5).not()", "(1 | 2 | 3).all($this > 0)", "{}.all(false)",
            "(true | false).anyTrue()", "(true | true).allTrue()", "(false).allFalse()", "(true | false).anyFalse()", "{}.allTrue()",
            "(1 | 2 | 3).where($this > 1) = (2 | 3)", "(1 | 2 | 3).select($this * 2) = (2 | 4 | 6)", "(1 | 2 | 3).first() = 1",
            "(1 | 2 | 3).last() = 3", "(1 | 2 | 3).tail() = (2 | 3)", "(1 | 2 | 3).skip(2) = 3", "(1 | 2 | 3).take(2) = (1 | 2)",
            "(1 | 2 | 3)[1] = 2", "(1 | 2 | 3)[5].empty()", "(7).single() = 7", "(1 | 2 | 3).where($index >= 1).count() = 2",
            "(1 | 2 | 3).aggregate($this + $total, 0) = 6", "(5 | 2 | 8).aggregate(iif($total.empty(), $this, iif($this < $total, $this, $total))) = 2",
            "(1 | 2 | 3).intersect(2 | 3 | 4) = (2 | 3)", "(1 | 2 | 3).exclude(2) = (1 | 3)", "(1 | 2).subsetOf(1 | 2 | 3)",
            "(1 | 2 | 3).supersetOf(3 | 1)", "(1).combine(1).isDistinct().not()", "(1).combine(1).combine(2).distinct().count() = 2",
            "(1 | 2).union(2 | 3).count() = 3", "3 in (1 | 2 | 3)", "(1 | 2 | 3) contains 2", "((1 | 2 | 3) contains 4).not()",
            "({} in (1 | 2)).empty()", "(1 | 2 | 3).sum() = 6", "(1.5 | 2.5).sum() = 4.0", "{}.sum().empty()", "(3 | 1 | 2).min() = 1",
            "(3 | 1 | 2).max() = 3", "(1 | 2 | 3 | 4).avg() = 2.5", "('b' | 'a' | 'c').min() = 'a'", "(@2024-01-02 | @2023-05-01).min() = @2023-05-01",
            "(1 'kg' | 500 'g').sum() = 1.5 'kg'", "(1 | 2 | 3).repeat(iif($this < 3, $this + 1, {})) = (2 | 3)",
        ])
    func collections(_ expression: String) throws {
        #expect(try Self.evaluate(expression) == [.boolean(true)], "\(expression)")
    }

    @Test(
        "string functions",
        arguments: [
            "'abcdefg'.substring(2, 3) = 'cde'", "'abcdefg'.substring(5) = 'fg'", "'abc'.substring(10).empty()", "'abcdefg'.indexOf('de') = 3",
            "'abc'.indexOf('x') = -1", "'abc'.startsWith('ab')", "'abc'.endsWith('bc')", "'abc'.contains('b')", "'aBc'.upper() = 'ABC'",
            "'aBc'.lower() = 'abc'", "'grüße'.length() = 5", "'a-b-c'.replace('-', '+') = 'a+b+c'", "'abc'.replace('', '.') = '.a.b.c.'",
            "'2024-01-15'.matches('^\\\\d{4}-\\\\d{2}-\\\\d{2}$')", "'hello world'.matches('o w')", "'abc'.matches('^b').not()",
            "'john@example.org'.replaceMatches('(\\\\w+)@(\\\\w+)', '$2 has $1') = 'example has john.org'", "'abc'.toChars().count() = 3",
            "'a,b,,c'.split(',').count() = 4", "('a' | 'b' | 'c').join('-') = 'a-b-c'", "'  x y  '.trim() = 'x y'",
            "'it\\'s'.length() = 4", "'\\u00e9t\\u00e9' = 'été'", "'tab\\there'.contains('\\t')",
            "'^(\\+\\d{1,2}\\s?)?\\d{3}$'.length() = 22",
        ])
    func strings(_ expression: String) throws {
        #expect(try Self.evaluate(expression) == [.boolean(true)], "\(expression)")
    }

    @Test(
        "math functions",
        arguments: [
            "(-5).abs() = 5", "(-5.5).abs() = 5.5", "(-5.5 'mg').abs() = 5.5 'mg'", "1.1.ceiling() = 2", "(-1.1).ceiling() = -1",
            "1.9.floor() = 1", "(-1.1).floor() = -2", "2.5.round() = 3", "(-2.5).round() = -3", "3.14159.round(2) = 3.14", "7.round() = 7",
            "2.9.truncate() = 2", "(-2.9).truncate() = -2", "16.sqrt() = 4.0", "(-1).sqrt().empty()", "2.power(10) = 1024",
            "2.power(-1) = 0.5", "2.5.power(2) = 6.25", "4.power(0.5) = 2.0", "(-8).power(0.5).empty()", "1.ln() = 0.0", "0.ln().empty()",
            "1.exp().round(5) = 2.71828", "100.log(10) = 2.0", "(1.0 'kg').value = 1.0",
        ])
    func math(_ expression: String) throws {
        #expect(try Self.evaluate(expression) == [.boolean(true)], "\(expression)")
    }

    @Test(
        "conversion and type functions",
        arguments: [
            "'42'.toInteger() = 42", "'-7'.convertsToInteger()", "'4.2'.convertsToInteger().not()", "4.2.toInteger().empty()",
            "'4.20'.toDecimal() = 4.2", "'x'.convertsToDecimal().not()", "42.toString() = '42'", "true.toString() = 'true'",
            "@2024-01-05.toString() = '2024-01-05'", "(5 'kg').toString() = '5 \\'kg\\''", "'yes'.toBoolean()", "'0'.toBoolean() = false",
            "'maybe'.convertsToBoolean().not()", "'2024-01-05'.toDate() = @2024-01-05", "'2024-01-05T10:00:00Z'.toDateTime() = @2024-01-05T10:00:00Z",
            "'10:30'.toTime() = @T10:30", "'5 \\'kg\\''.toQuantity() = 5 'kg'", "'3 days'.toQuantity() = 3 days", "5.toQuantity() = 5 '1'",
            "(150 '[lb_av]').toQuantity('kg') = 68.0388555 'kg'", "(1.75 'm').toQuantity('cm').value = 175", "(1 'kg').convertsToQuantity('m').not()",
            "1 is Integer", "1 is System.Integer", "1.0 is Decimal", "'a' is String", "@2024 is Date", "@2024-01-01T10 is DateTime", "@T10 is Time",
            "(5 'kg') is Quantity", "(1 is String).not()", "(1 as Integer) = 1", "(1 as String).empty()", "(1 | 'a' | 2.0).ofType(Integer) = 1",
            "1.is(Integer)", "'a'.as(String) = 'a'", "iif(true, 'a', 'b') = 'a'", "iif({}, 'a', 'b') = 'b'", "iif(false, 'a').empty()",
            "iif(true, 1, (1 | 2).single()) = 1", "(5).iif($this > 3, 'big', 'small') = 'big'", "(1 | 2).trace('x').count() = 2",
        ])
    func conversions(_ expression: String) throws {
        #expect(try Self.evaluate(expression) == [.boolean(true)], "\(expression)")
    }

    @Test("literals: strings with escapes, numbers, dates, times, quantities, the empty collection, comments")
    func literals() throws {
        #expect(try Self.evaluate("'say \\'hi\\'\\n'") == [.string("say 'hi'\n")])
        #expect(try Self.evaluate("'\\uD83D\\uDE00'") == [.string("😀")])
        #expect(try Self.evaluate("'a\\d'") == [.string("a\\d")], "a backslash before another letter is kept, for regular expressions")
        #expect(try Self.evaluate("42") == [.integer(42)])
        #expect(try Self.evaluate("0.10") == [Self.decimal("0.10")])
        #expect(try Self.evaluate("true | false") == [.boolean(true), .boolean(false)])
        #expect(try Self.evaluate("{}") == [])
        #expect(try Self.evaluate("@2024-02-29") == [.date(FHIRPathDateTime(year: 2024, month: 2, day: 29, precision: .day))])
        #expect(try Self.evaluate("@2024-02-29T10:30:15.250+02:00.toString()") == [.string("2024-02-29T10:30:15.250+02:00")])
        #expect(try Self.evaluate("@T10:30") == [.time(FHIRPathTime(hour: 10, minute: 30, precision: .minute))])
        let kilograms = try #require(FHIRPathDecimal("5"))
        #expect(try Self.evaluate("5 'kg'") == [.quantity(FHIRPathQuantity(value: kilograms, unit: "kg"))])
        #expect(try Self.evaluate("5 days") == [.quantity(FHIRPathQuantity(value: kilograms, unit: "day"))])
        #expect(try Self.evaluate("1 /* one */ + // line comment\n 2") == [.integer(3)])
        #expect(try Self.evaluate("`div`.empty()") == [.boolean(true)], "a delimited identifier is never a keyword")
    }

    @Test("today(), now() and timeOfDay() come from the context's clock and offset")
    func clock() throws {
        let utc = Self.context()
        #expect(try FHIRPathExpression("today()").evaluate(utc) == [.date(FHIRPathDateTime(year: 2024, month: 3, day: 10, precision: .day))])
        let berlin = Self.context(offset: 3600)
        #expect(try FHIRPathExpression("today() = @2024-03-11").evaluate(berlin) == [.boolean(true)], "past midnight in UTC+1")
        #expect(try FHIRPathExpression("now().toString()").evaluate(berlin) == [.string("2024-03-11T00:30:00.000+01:00")])
        #expect(try FHIRPathExpression("now() = @2024-03-10T23:30:00Z").evaluate(berlin) == [.boolean(true)])
        #expect(try FHIRPathExpression("timeOfDay() = @T00:30:00").evaluate(berlin) == [.boolean(true)])
        #expect(try FHIRPathExpression("today() - 18 years = @2006-03-11").evaluate(berlin) == [.boolean(true)])
        let absurd = FHIRPathContext(resource: [:], now: .max, utcOffsetSeconds: .max)
        #expect(try FHIRPathExpression("today().exists() and now().exists()").evaluate(absurd) == [.boolean(true)], "no trap on any clock")
    }

    // MARK: - Navigation over FHIR JSON

    static let patient = """
        {"resourceType":"Patient","id":"p1","active":true,"birthDate":"1974-12-25",
         "name":[{"use":"official","family":"Chalmers","given":["Peter","James"]},{"use":"usual","given":["Jim"]}],
         "telecom":[{"system":"phone","value":"(03) 5555 6473"},{"system":"email","value":"jim@example.org"}],
         "extension":[{"url":"http://example.org/eye-colour","valueCode":"blue"}],
         "_birthDate":{"extension":[{"url":"http://example.org/time","valueDateTime":"1974-12-25T14:35:45-05:00"}]}}
        """

    @Test("member navigation flattens arrays; a leading type name selects the resource; indexers and $this")
    func navigation() throws {
        let patient = try Self.json(Self.patient)
        #expect(try Self.evaluate("name.given", on: patient) == [.string("Peter"), .string("James"), .string("Jim")])
        #expect(try Self.evaluate("Patient.name.family", on: patient) == [.string("Chalmers")])
        #expect(try Self.evaluate("name[1].given.first()", on: patient) == [.string("Jim")])
        #expect(try Self.evaluate("name.where(use = 'official').given.count()", on: patient) == [.integer(2)])
        #expect(try Self.evaluate("telecom.where(system = 'email').value", on: patient) == [.string("jim@example.org")])
        #expect(try Self.evaluate("name.given.where($this.startsWith('J'))", on: patient) == [.string("James"), .string("Jim")])
        #expect(try Self.evaluate("name.select(given.first() + ' ' + family)", on: patient) == [.string("Peter Chalmers")])
        #expect(try Self.evaluate("active and %resource.id = 'p1'", on: patient) == [.boolean(true)])
        #expect(try Self.evaluate("birthDate < today()", on: patient) == [.boolean(true)], "a date string compares with a Date")
        #expect(try Self.evaluate("extension('http://example.org/eye-colour').value", on: patient) == [.string("blue")])
        #expect(try Self.evaluate("nothing.here.empty()", on: patient) == [.boolean(true)])
        #expect(try Self.evaluate("name.children().count()", on: patient) == [.integer(6)])
        #expect(try Self.evaluate("descendants().where($this = 'Jim').count()", on: patient) == [.integer(1)])
        #expect(try Self.evaluate("Observation.value.empty()", on: patient) == [.boolean(true)])
    }

    @Test("%context and $this follow the focus; named variables; built-in constants")
    func environment() throws {
        let patient = try Self.json(Self.patient)
        let name = FHIRPathValue.collection(from: patient["name"] ?? [], path: "%resource.name")
        let context = FHIRPathContext(
            resource: patient, focus: [name[0]], variables: ["threshold": [.integer(2)]], now: Self.now)
        #expect(try FHIRPathExpression("given.count() = %threshold").evaluate(context) == [.boolean(true)])
        #expect(try FHIRPathExpression("%context.family").evaluate(context) == [.string("Chalmers")])
        #expect(try FHIRPathExpression("$this.use").evaluate(context) == [.string("official")])
        #expect(try FHIRPathExpression("%resource.id").evaluate(context) == [.string("p1")])
        #expect(try FHIRPathExpression("%ucum").evaluate(context) == [.string("http://unitsofmeasure.org")])
        #expect(try FHIRPathExpression("%'threshold' + %`threshold`").evaluate(context) == [.integer(4)])
    }

    static let response = """
        {"resourceType":"QuestionnaireResponse","status":"in-progress","item":[
         {"linkId":"age","answer":[{"valueInteger":67}]},
         {"linkId":"weight","answer":[{"valueDecimal":81.5}]},
         {"linkId":"bodyweight","answer":[{"valueQuantity":{"value":180,"unit":"lb","system":"http://unitsofmeasure.org","code":"[lb_av]"}}]},
         {"linkId":"smoker","answer":[{"valueBoolean":true}]},
         {"linkId":"onset","answer":[{"valueDate":"2023-11-02"}]},
         {"linkId":"seen","answer":[{"valueDateTime":"2024-03-01T09:15:00+01:00"}]},
         {"linkId":"note","answer":[{"valueString":"short of breath"}]},
         {"linkId":"symptom","answer":[{"valueCoding":{"system":"http://snomed.info/sct","code":"267036007","display":"Dyspnea"}},
                                      {"valueString":"Other: ankles"}]}]}
        """

    @Test("value finds every value[x] of an answer, typed by its suffix, for ofType(), is and as")
    func choiceTypes() throws {
        let response = try Self.json(Self.response)
        func answer(_ linkId: String, _ rest: String) throws -> [FHIRPathValue] {
            try Self.evaluate("item.where(linkId = '\(linkId)').answer.value\(rest)", on: response)
        }
        #expect(try answer("age", "") == [.integer(67)])
        #expect(try answer("weight", "") == [Self.decimal("81.5")])
        #expect(try answer("smoker", "") == [.boolean(true)])
        #expect(try answer("onset", " < @2024-01-01") == [.boolean(true)], "valueDate is a Date")
        #expect(try answer("seen", " = @2024-03-01T08:15:00Z") == [.boolean(true)], "valueDateTime is a DateTime")
        #expect(try answer("note", ".matches('breath')") == [.boolean(true)])
        #expect(try answer("symptom", ".ofType(Coding).code") == [.string("267036007")])
        #expect(try answer("symptom", ".ofType(FHIR.Coding).display") == [.string("Dyspnea")])
        #expect(try answer("symptom", ".ofType(string)") == [.string("Other: ankles")])
        #expect(try answer("symptom", ".where($this is Coding).count()") == [.integer(1)])
        #expect(try answer("age", ".ofType(integer)") == [.integer(67)])
        #expect(try answer("age", " is Integer") == [.boolean(true)])
        #expect(try answer("bodyweight", " is Quantity") == [.boolean(true)])
        #expect(try answer("bodyweight", " > 80 'kg'") == [.boolean(true)], "180 lb is 81.6 kg")
        #expect(try answer("bodyweight", ".toQuantity('kg').value.round(1)") == [Self.decimal("81.6")])
        #expect(try answer("bodyweight", ".value") == [.integer(180)])
        #expect(try Self.evaluate("(item.where(linkId = 'bodyweight').answer.value as Quantity).unit", on: response) == [.string("lb")])
        #expect(try Self.evaluate("item.answer.valueCoding.code", on: response) == [.string("267036007")])
        #expect(try Self.evaluate("item.answer.valueCoding is Coding", on: response) == [.boolean(true)])
        #expect(try Self.evaluate("item.answer.value.count()", on: response) == [.integer(9)])
    }

    // MARK: - SDC scored forms

    /// A PHQ-9 as LHC-Forms and the MII publish it: answerOption codings (LOINC answer codes) with
    /// ordinalValue on the option, and the total as a calculatedExpression.
    static let phq9 = """
        {"resourceType":"Questionnaire","id":"phq9","status":"active","item":[
         {"linkId":"phq","type":"group","item":[
          {"linkId":"phq1","type":"choice","answerOption":[\(options)]},
          {"linkId":"phq2","type":"choice","answerOption":[\(options)]},
          {"linkId":"phq3","type":"choice","answerOption":[\(options)]},
          {"linkId":"phq4","type":"choice","answerOption":[\(options)]},
          {"linkId":"phq5","type":"choice","answerOption":[\(options)]},
          {"linkId":"phq6","type":"choice","answerOption":[\(options)]},
          {"linkId":"phq7","type":"choice","answerOption":[\(options)]},
          {"linkId":"phq8","type":"choice","answerOption":[\(options)]},
          {"linkId":"phq9","type":"choice","answerOption":[\(options)]},
          {"linkId":"total","type":"integer","readOnly":true,"extension":[{"url":"http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression",
            "valueExpression":{"language":"text/fhirpath","expression":"%resource.repeat(item).answer.value.ordinal().sum()"}}]}]}]}
        """

    static let options = [("LA6568-5", "Not at all", 0), ("LA6569-3", "Several days", 1), ("LA6570-1", "More than half the days", 2), ("LA6571-9", "Nearly every day", 3)]
        .map { code, display, score in
            #"{"valueCoding":{"system":"http://loinc.org","code":"\#(code)","display":"\#(display)"},"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/ordinalValue","valueDecimal":\#(score)}]}"#
        }.joined(separator: ",")

    /// A response to `phq9` with one LOINC answer code per question, in order.
    static func phq9Response(_ codes: [String]) -> String {
        let items = codes.enumerated().map { index, code in
            #"{"linkId":"phq\#(index + 1)","answer":[{"valueCoding":{"system":"http://loinc.org","code":"\#(code)"}}]}"#
        }
        return #"{"resourceType":"QuestionnaireResponse","status":"completed","item":[{"linkId":"phq","item":[\#(items.joined(separator: ","))]}]}"#
    }

    @Test("PHQ-9: the total from ordinalValue on the answer options, over every answer and over chosen items")
    func phq9Total() throws {
        let questionnaire = try Self.json(Self.phq9)
        // Scores 0 1 2 3 0 1 2 3 3 = 15.
        let response = try Self.json(
            Self.phq9Response(["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9", "LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9", "LA6571-9"]))
        let context = Self.context(response, questionnaire: questionnaire)
        let total = questionnaire["item"]?.arrayValue?.first?["item"]?.arrayValue?.last
        let written = try #require(total?["extension"]?.arrayValue?.first?["valueExpression"]?["expression"]?.stringValue)
        #expect(try FHIRPathExpression(written).evaluate(context) == [Self.decimal("15")])
        #expect(try FHIRPathExpression("%resource.repeat(item).answer.value.weight().sum()").evaluate(context) == [Self.decimal("15")])
        #expect(try FHIRPathExpression("%resource.answers().value.ordinal().sum()").evaluate(context) == [Self.decimal("15")])
        #expect(try FHIRPathExpression("%resource.repeat(item).answer.ordinal().sum()").evaluate(context) == [Self.decimal("15")], "on the answer too")
        let chosen = "%resource.repeat(item).where(linkId in ('phq1' | 'phq2' | 'phq4')).answer.value.ordinal().sum()"
        #expect(try FHIRPathExpression(chosen).evaluate(context) == [Self.decimal("4")])
        #expect(try FHIRPathExpression("%resource.repeat(item).where(linkId = 'phq4').answer.value.ordinal() = 3").evaluate(context) == [.boolean(true)])
        let display = "%resource.repeat(item).where(linkId = 'phq2').answer.value.answerOption().valueCoding.display"
        #expect(try FHIRPathExpression(display).evaluate(context) == [.string("Several days")])
        let band = "iif(%score >= 20, 'severe', iif(%score >= 15, 'moderately severe', iif(%score >= 10, 'moderate', iif(%score >= 5, 'mild', 'minimal'))))"
        let scored = Self.context(response, questionnaire: questionnaire, variables: ["score": try FHIRPathExpression(written).evaluate(context)])
        #expect(try FHIRPathExpression(band).evaluate(scored) == [.string("moderately severe")])
        #expect(try FHIRPathExpression(written).evaluate(context).first?.answerJSON(itemType: "integer") == ["valueInteger": 15])
        let firstQuestion = try #require(FHIRPathAnswerScore(questionnaire: questionnaire).item(linkId: "phq1"))
        let itemContext = FHIRPathContext(resource: response, questionnaire: questionnaire, questionnaireItem: firstQuestion, now: Self.now)
        let option = "%qitem.answerOption.where(valueCoding.code = 'LA6570-1').valueCoding.display"
        #expect(try FHIRPathExpression(option).evaluate(itemContext) == [.string("More than half the days")])
    }

    @Test("PHQ-9: an unanswered form has no total; a score on the Coding itself counts; answers without a score add nothing")
    func phq9Edges() throws {
        let questionnaire = try Self.json(Self.phq9)
        let empty = try Self.json(#"{"resourceType":"QuestionnaireResponse","status":"in-progress","item":[{"linkId":"phq"}]}"#)
        let expression = try FHIRPathExpression("%resource.repeat(item).answer.value.ordinal().sum()")
        #expect(try expression.evaluate(Self.context(empty, questionnaire: questionnaire)) == [])
        let ownScore = try Self.json("""
            {"resourceType":"QuestionnaireResponse","status":"completed","item":[{"linkId":"phq","item":[
             {"linkId":"phq1","answer":[{"valueCoding":{"code":"custom","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/itemWeight","valueInteger":2}]}}]},
             {"linkId":"phq2","answer":[{"valueCoding":{"code":"LA6571-9"}}]},
             {"linkId":"phq3","answer":[{"valueCoding":{"system":"http://loinc.org","code":"unknown"}}]},
             {"linkId":"phq4","answer":[{"valueString":"free text"}]}]}]}
            """)
        #expect(try expression.evaluate(Self.context(ownScore, questionnaire: questionnaire)) == [Self.decimal("5")])
    }

    // MARK: - The published forms in Tests/Fixtures/Questionnaires

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Fixtures/Questionnaires").standardized

    static func fixture(_ name: String) throws -> JSONValue {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
        return try JSONParser.parse(Array(data))
    }

    /// A QuestionnaireResponse with every item of `questionnaire` (groups nested as in the form) and
    /// the answers of expected.json: a code becomes the option's whole Coding, a number the item's type.
    static func response(to questionnaire: JSONValue, answers: JSONValue) -> JSONValue {
        func responseItems(_ items: [JSONValue]) -> [JSONValue] {
            items.compactMap { item -> JSONValue? in
                guard let linkId = item["linkId"]?.stringValue, item["type"]?.stringValue != "display" else { return nil }
                var object: JSONObject = ["linkId": .string(linkId)]
                if let given = answers[linkId] {
                    let value: (String, JSONValue)
                    switch (item["type"]?.stringValue, given) {
                    case (_, .string(let code)):
                        let option = (item["answerOption"]?.arrayValue ?? []).first { $0["valueCoding"]?["code"]?.stringValue == code }
                        value = ("valueCoding", option?["valueCoding"] ?? ["code": .string(code)])
                    case ("decimal", _): value = ("valueDecimal", given)
                    case ("integer", _): value = ("valueInteger", given)
                    case ("quantity", .number): value = ("valueQuantity", ["value": given])
                    case ("quantity", _): value = ("valueQuantity", given)
                    default: value = ("valueBoolean", given)
                    }
                    object["answer"] = [.object([value.0: value.1])]
                }
                let children = responseItems(item["item"]?.arrayValue ?? [])
                if !children.isEmpty { object["item"] = .array(children) }
                return .object(object)
            }
        }
        return ["resourceType": "QuestionnaireResponse", "status": "in-progress", "item": .array(responseItems(questionnaire["item"]?.arrayValue ?? []))]
    }

    /// What the questionnaire engine does for a calculated item: the form's variables in order on the
    /// response, then the item's own variables and calculatedExpression with the response item as context.
    static func calculate(_ linkId: String, in questionnaire: JSONValue, response: JSONValue) throws -> [FHIRPathValue] {
        let variableURL = "http://hl7.org/fhir/StructureDefinition/variable"
        let calculatedURL = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
        var variables: [String: [FHIRPathValue]] = [:]
        func run(_ extensions: [JSONValue], focus: [FHIRPathValue]?, questionnaireItem: JSONValue?) throws -> [FHIRPathValue]? {
            var calculated: [FHIRPathValue]? = nil
            for ext in extensions {
                guard let expression = ext["valueExpression"]?["expression"]?.stringValue else { continue }
                let context = FHIRPathContext(
                    resource: response, focus: focus, questionnaire: questionnaire, questionnaireItem: questionnaireItem, variables: variables,
                    now: now)
                let result = try FHIRPathExpression(expression).evaluate(context)
                if ext["url"]?.stringValue == variableURL, let name = ext["valueExpression"]?["name"]?.stringValue { variables[name] = result }
                if ext["url"]?.stringValue == calculatedURL { calculated = result }
            }
            return calculated
        }
        _ = try run(questionnaire["extension"]?.arrayValue ?? [], focus: nil, questionnaireItem: nil)
        let item = try #require(FHIRPathAnswerScore(questionnaire: questionnaire).item(linkId: linkId))
        let focus = try FHIRPathExpression("%resource.repeat(item).where(linkId = '\(linkId)')").evaluate(context(response))
        return try #require(try run(item["extension"]?.arrayValue ?? [], focus: focus, questionnaireItem: item))
    }

    struct FixtureCase: Sendable, CustomTestStringConvertible {
        var file: String
        var name: String
        var linkId: String
        var expected: JSONValue
        var places: Int?
        var answers: JSONValue
        var testDescription: String { "\(file): \(name), \(linkId)" }
    }

    /// Every calculated value expected.json requires of a form with FHIRPath expressions.
    static var fixtureCases: [FixtureCase] {
        guard let expected = try? fixture("expected.json"), let forms = expected["questionnaires"]?.objectValue else { return [] }
        let withExpressions = ["phq-9-sdc.json", "phq-9-mii-de.json", "framingham-hchd-sdc.json", "hunger-vital-sign-sdc.json", "weight-height-bmi-sdc.json", "vital-signs-lhc.json"]
        return forms.filter { withExpressions.contains($0.key) }.flatMap { file, form in
            (form["cases"]?.arrayValue ?? []).flatMap { example in
                (example["calculated"]?.objectValue ?? JSONObject()).map { linkId, value in
                    FixtureCase(
                        file: file, name: example["name"]?.stringValue ?? "?", linkId: linkId, expected: value,
                        places: form["tolerance_places"]?.intValue, answers: example["answers"] ?? [:])
                }
            }
        }
    }

    @Test("the forms' cases are there: an unreadable expected.json would pass by checking nothing")
    func fixtureCasesExist() {
        #expect(Set(Self.fixtureCases.map(\.file)).count == 6, "every form with expressions has cases")
    }

    @Test("the forms' own calculatedExpressions and variables give what their sources require", arguments: FHIRPathTests.fixtureCases)
    func publishedForms(_ example: FixtureCase) throws {
        let questionnaire = try Self.fixture(example.file)
        let response = Self.response(to: questionnaire, answers: example.answers)
        let result = try Self.calculate(example.linkId, in: questionnaire, response: response)
        switch example.expected {
        case .null:
            #expect(result.isEmpty, "\(result)")
        case .string(let text):
            let got = result.first.flatMap { value -> String? in
                if case .element(let element) = value { return element.json["code"]?.stringValue }
                return value.answerJSON(itemType: "string")?["valueString"]?.stringValue
            }
            #expect(result.count == 1 && got == text, "\(result)")
        case .number(let literal):
            let want = try #require(FHIRPathDecimal(literal))
            let got = try #require(result.count == 1 ? result[0].decimalValue ?? result[0].quantityValue?.value : nil, "\(result)")
            let places = example.places ?? want.scale
            #expect(got.rounded(toPlaces: places) == want.rounded(toPlaces: places), "\(got) vs \(want)")
        default:
            Issue.record("unexpected expectation \(example.expected)")
        }
    }

    @Test("MII PHQ-9: '|' binds tighter than '!=', so the published where() keeps every item; the unscored PHQ-9.10 adds nothing: 27")
    func miiPHQ9() throws {
        let questionnaire = try Self.fixture("phq-9-mii-de.json")
        let answers = try Self.json(
            #"{"PHQ-9.1":"LA6571-9","PHQ-9.2":"LA6571-9","PHQ-9.3":"LA6571-9","PHQ-9.4":"LA6571-9","PHQ-9.5":"LA6571-9","PHQ-9.6":"LA6571-9","PHQ-9.7":"LA6571-9","PHQ-9.8":"LA6571-9","PHQ-9.9":"LA6571-9","PHQ-9.10":"LA6574-3"}"#)
        let response = Self.response(to: questionnaire, answers: answers)
        let context = Self.context(response, questionnaire: questionnaire)
        // Read as linkId != ('PHQ-9.10' | linkId) != 'PHQ-9.Score': true for every item.
        #expect(try Self.evaluate("('a' != 'b' | 'a').count() = 1") == [.boolean(true)])
        let published = "%resource.item.where(linkId!='PHQ-9.10' | linkId!='PHQ-9.Score')"
        #expect(try FHIRPathExpression(published + ".count()").evaluate(context) == [.integer(12 - 1)], "every item but the display item")
        #expect(try FHIRPathExpression(published + ".answer.value.weight().sum()").evaluate(context) == [Self.decimal("27")])
        let intended = "%resource.item.where(linkId != 'PHQ-9.10' and linkId != 'PHQ-9.Score').answer.value.weight().sum()"
        #expect(try FHIRPathExpression(intended).evaluate(context) == [Self.decimal("27")])
        #expect(try FHIRPathExpression("%resource.repeat(item).answer.value.ordinal().sum()").evaluate(context) == [Self.decimal("27")], "PHQ-9.10 has no score")
        #expect(try FHIRPathExpression("%resource.item.where(linkId = 'PHQ-9.10').answer.value.ordinal()").evaluate(context) == [])
    }

    @Test("GAD-7: the score from a contained ValueSet's ordinalValues", arguments: ["moderate", "all-not-at-all"])
    func gad7(_ name: String) throws {
        let questionnaire = try Self.fixture("gad-7-rkof.json")
        let example = try #require(try Self.fixture("expected.json")["questionnaires"]?["gad-7-rkof.json"]?["cases"]?.arrayValue?.first { $0["name"]?.stringValue == name })
        let response = Self.response(to: questionnaire, answers: example["answers"] ?? [:])
        let total = try FHIRPathExpression("%resource.repeat(item).answer.value.ordinal().sum()").evaluate(Self.context(response, questionnaire: questionnaire))
        #expect(total.first?.decimalValue == example["score"]?.intValue.map(FHIRPathDecimal.init), "\(total)")
    }

    // MARK: - Formulas with variables

    @Test("BMI from weight and height variables, rounded to one place, written back as an answer")
    func bmi() throws {
        let expression = try FHIRPathExpression("(%weight / ((%height / 100).power(2))).round(1)")
        func bmi(_ weight: String, _ height: String) throws -> [FHIRPathValue] {
            try expression.evaluate(Self.context(variables: ["weight": [Self.decimal(weight)], "height": [Self.decimal(height)]]))
        }
        #expect(try bmi("70", "175") == [Self.decimal("22.9")])
        #expect(try bmi("95.3", "182.5") == [Self.decimal("28.6")])
        #expect(try bmi("70", "175").first?.answerJSON(itemType: "decimal") == ["valueDecimal": .number("22.9")])
        #expect(try bmi("70", "175").first?.answerJSON(itemType: "quantity") == ["valueQuantity": ["value": .number("22.9")]])
        #expect(try bmi("70", "175").first?.answerJSON(itemType: "integer") == nil, "22.9 does not answer an integer item")
        #expect(try expression.evaluate(Self.context(variables: ["weight": [Self.decimal("70")], "height": []])) == [], "no height, no BMI")
        #expect(try expression.evaluate(Self.context(variables: ["weight": [Self.decimal("70")], "height": [.integer(0)]])) == [])
    }

    @Test("a heart-failure check: weight gain over three days from an Observation-like history, iif branching")
    func weightGain() throws {
        let history = try Self.json("""
            {"resourceType":"Bundle","entry":[
             {"resource":{"resourceType":"Observation","effectiveDateTime":"2024-03-07T08:00:00Z","valueQuantity":{"value":81.0,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}},
             {"resource":{"resourceType":"Observation","effectiveDateTime":"2024-03-09T08:00:00Z","valueQuantity":{"value":82.1,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}},
             {"resource":{"resourceType":"Observation","effectiveDateTime":"2024-03-10T08:00:00Z","valueQuantity":{"value":83.2,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}}]}
            """)
        let recent = "entry.resource.where(effective >= now() - 4 days)"
        let gain = "(\(recent).value.last().value - \(recent).value.first().value)"
        #expect(try Self.evaluate(gain, on: history) == [Self.decimal("2.2")])
        #expect(try Self.evaluate("iif(\(gain) >= 2, 'call the clinic', 'ok')", on: history) == [.string("call the clinic")])
        #expect(try Self.evaluate("entry.resource.value.max()", on: history).first?.quantityValue?.value == FHIRPathDecimal("83.2"))
        #expect(try Self.evaluate("entry.resource.value.select(value).avg().round(2)", on: history) == [Self.decimal("82.10")])
    }

    @Test("enableWhenExpression-style conditions read as true, false or unknown")
    func enableWhenExpression() throws {
        let response = try Self.json(Self.response)
        let context = Self.context(response)
        let condition = try FHIRPathExpression(
            "%resource.item.where(linkId = 'smoker').answer.value = true and %resource.item.where(linkId = 'age').answer.value >= 65")
        #expect(try condition.evaluateCondition(context) == true)
        let unanswered = try FHIRPathExpression("%resource.item.where(linkId = 'missing').answer.value > 3")
        #expect(try unanswered.evaluateCondition(context) == nil)
        let exists = try FHIRPathExpression("%resource.item.where(linkId = 'missing').answer.exists()")
        #expect(try exists.evaluateCondition(context) == false)
        #expect(throws: FHIRPathError.self) { try FHIRPathExpression("%resource.item.linkId").evaluateCondition(context) }
    }

    // MARK: - Errors

    @Test(
        "syntax errors say where",
        arguments: [
            ("1 +", 1, 4), ("1 + * 2", 1, 5), ("name.where(", 1, 12), ("'abc", 1, 1), ("(1 | 2", 1, 7), ("a.", 1, 3),
            ("@2024-13-01", 1, 1), ("1 2", 1, 3), ("{1}", 1, 1), ("a !b", 1, 3), ("x.is(1)", 1, 6), ("$thing", 1, 1),
            ("name\n  .where(use = )", 2, 16), ("", 1, 1), ("/* never closed", 1, 1), ("%", 1, 1),
        ] as [(String, Int, Int)])
    func syntaxErrors(_ expression: String, _ line: Int, _ column: Int) throws {
        let error = try #require(Self.syntaxError(expression), "\(expression) should not parse")
        #expect(error.kind == .syntax, "\(error)")
        #expect(error.position == FHIRPathPosition(offset: error.position?.offset ?? -1, line: line, column: column), "\(error)")
        #expect(error.description.contains("column \(column)"), "\(error.description)")
    }

    @Test("a list written with commas is not FHIRPath: ('a','b') fails at the comma; ('a' | 'b') is the union")
    func commaList() throws {
        let error = try #require(Self.syntaxError("linkId in ('a','b')"))
        #expect(error.kind == .syntax)
        #expect(error.position?.column == 15)
        #expect(error.message.contains("expected ')'"), "\(error.message)")
        #expect(try Self.evaluate("'b' in ('a' | 'b')") == [.boolean(true)])
    }

    @Test("unknown functions are named when the expression is read, with the position")
    func unsupportedFunction() throws {
        let error = try #require(Self.syntaxError("%resource.item.answer.value.xyz() + 1"))
        #expect(error.kind == .unsupportedFunction("xyz"))
        #expect(error.message == "the form uses FHIRPath function 'xyz()', which Bedside does not support")
        #expect(error.position?.column == 29)
        #expect(Self.syntaxError("resolve()")?.kind == .unsupportedFunction("resolve"))
        #expect(Self.syntaxError("memberOf('http://x')")?.kind == .unsupportedFunction("memberOf"))
        let arity = try #require(Self.syntaxError("'abc'.substring()"))
        #expect(arity.kind == .syntax)
        #expect(arity.message == "function 'substring()' takes 1 or 2 arguments, not 0")
        #expect(Self.syntaxError("count(1)")?.message == "function 'count()' takes no arguments, not 1")
        #expect(Self.syntaxError("xyz")?.kind == nil, "an unknown member is not an error: it is empty")
    }

    @Test("evaluation errors: several items where one is needed, undefined variables, $total outside aggregate, bad regex")
    func evaluationErrors() throws {
        let singleton = try #require(Self.evaluationError("(1 | 2) + 1"))
        #expect(singleton.kind == .evaluation)
        #expect(singleton.message == "'+' needs a single value, but got a collection of 2")
        #expect(singleton.position?.column == 9)
        #expect(Self.evaluationError("(1 | 2).single()")?.kind == .evaluation)
        #expect(Self.evaluationError("(1 | 2).where($this)")?.kind == nil, "a single non-Boolean criterion counts as true")
        #expect(Self.evaluationError("(1 | 2).where(true | false)")?.kind == .evaluation)
        #expect(Self.evaluationError("%nope")?.kind == .undefinedVariable("nope"))
        #expect(Self.evaluationError("%questionnaire")?.kind == .undefinedVariable("questionnaire"))
        #expect(Self.evaluationError("$total")?.kind == .evaluation)
        #expect(Self.evaluationError("$index")?.kind == .evaluation)
        #expect(Self.evaluationError("'a'.matches('(')")?.kind == .evaluation)
        #expect(Self.evaluationError("1 < 'a'")?.kind == .evaluation)
        #expect(Self.evaluationError("(1 | 2).iif(true, 1)")?.kind == .evaluation)
        #expect(Self.evaluationError("(true | 1).allTrue()")?.kind == .evaluation)
        #expect(Self.evaluationError("('a' | 1).sum()")?.kind == .evaluation)
    }

    @Test("deep nesting is refused with a clear error instead of exhausting the stack")
    func depthLimit() throws {
        let limit = FHIRPathExpression.maximumDepth
        let parentheses = String(repeating: "(", count: limit + 50) + "1" + String(repeating: ")", count: limit + 50)
        #expect(Self.syntaxError(parentheses)?.kind == .tooDeep)
        let sum = (0..<(limit + 50)).map { _ in "1" }.joined(separator: " + ")
        #expect(Self.syntaxError(sum)?.kind == .tooDeep, "a long left-deep chain is as deep as it is long")
        let negations = String(repeating: "-", count: 10_000) + "1"
        #expect(Self.syntaxError(negations)?.kind == .tooDeep)
        let calls = String(repeating: "iif(true, ", count: 5_000) + "1" + String(repeating: ")", count: 5_000)
        let error = try #require(Self.syntaxError(calls))
        #expect(error.kind == .tooDeep)
        #expect(error.message == "the expression nests deeper than \(limit) levels")
        // Just within the limit it parses and evaluates.
        let deep = String(repeating: "(", count: limit - 2) + "1" + String(repeating: ")", count: limit - 2) + " + 1"
        #expect(try Self.evaluate(deep) == [.integer(2)])
        let long = (0..<(limit - 1)).map { _ in "1" }.joined(separator: " + ")
        #expect(try Self.evaluate(long) == [.integer(limit - 1)])
    }

    // MARK: - Decimals

    @Test("decimals are exact and keep their written precision")
    func decimals() throws {
        let value = try #require(FHIRPathDecimal("72.50"))
        #expect(value.description == "72.50")
        #expect(value == FHIRPathDecimal("72.5"))
        #expect(FHIRPathDecimal("1e-3")?.description == "0.001")
        #expect(FHIRPathDecimal("2.5E+2")?.description == "250")
        #expect(FHIRPathDecimal("-0.5")?.rounded(toPlaces: 0).description == "-1")
        #expect(FHIRPathDecimal("abc") == nil)
        #expect(FHIRPathDecimal("1.") == nil || FHIRPathDecimal("1.")?.description == "1")
        let third = try #require(FHIRPathDecimal(1).divided(by: FHIRPathDecimal(3)))
        #expect(third.description == "0.33333333333333333333")
        #expect(FHIRPathDecimal("0.1")?.adding(FHIRPathDecimal("0.2") ?? .zero)?.description == "0.3")
        #expect(FHIRPathDecimal(0.1)?.description == "0.1")
        #expect(FHIRPathDecimal("123456789012345678.123456789")?.multiplied(by: FHIRPathDecimal("1000") ?? .zero)?.description == "123456789012345678123.456789000")
    }

    @Test("results convert back to answers")
    func answers() throws {
        #expect(FHIRPathValue.integer(3).answerJSON() == ["valueInteger": 3])
        #expect(FHIRPathValue.integer(3).answerJSON(itemType: "decimal") == ["valueDecimal": .number("3")])
        #expect(FHIRPathValue.boolean(true).answerJSON(itemType: "boolean") == ["valueBoolean": true])
        #expect(FHIRPathValue.boolean(true).answerJSON(itemType: "date") == nil)
        #expect(FHIRPathValue.string("35.64%").answerJSON(itemType: "string") == ["valueString": "35.64%"])
        #expect(FHIRPathValue.integer(7).answerJSON(itemType: "string") == ["valueString": "7"])
        let date = try #require(try Self.evaluate("@2024-03-01").first)
        #expect(date.answerJSON(itemType: "date") == ["valueDate": "2024-03-01"])
        #expect(try Self.evaluate("@2024-03-01T10:30Z").first?.answerJSON() == ["valueDateTime": "2024-03-01T10:30:00Z"])
        #expect(try Self.evaluate("@T10:30").first?.answerJSON() == ["valueTime": "10:30:00"])
        #expect(try Self.evaluate("3 days").first?.answerJSON() == [
            "valueQuantity": ["value": .number("3"), "unit": "day", "system": "http://unitsofmeasure.org", "code": "d"],
        ])
        let bodyweight = try Self.evaluate("item.where(linkId = 'bodyweight').answer.value", on: try Self.json(Self.response))
        #expect(bodyweight.first?.answerJSON(itemType: "quantity")?["valueQuantity"]?["unit"] == "lb", "a FHIR Quantity is kept as written")
        let coding = try #require(try Self.evaluate("item.answer.value.ofType(Coding)", on: try Self.json(Self.response)).first)
        #expect(coding.answerJSON(itemType: "choice") == [
            "valueCoding": ["system": "http://snomed.info/sct", "code": "267036007", "display": "Dyspnea"],
        ])
    }
}

extension FHIRPathTests {
    /// Every `text/fhirpath` expression anywhere in `json`.
    static func fhirPathExpressions(in json: JSONValue) -> [String] {
        switch json {
        case .object(let object):
            var found: [String] = []
            if object["language"]?.stringValue == "text/fhirpath", let expression = object["expression"]?.stringValue { found.append(expression) }
            for (_, member) in object { found += fhirPathExpressions(in: member) }
            return found
        case .array(let elements):
            return elements.flatMap { fhirPathExpressions(in: $0) }
        default:
            return []
        }
    }

    @Test("every FHIRPath expression in the fixture forms is read, but one whose regular expression ends its string early")
    func fixtureExpressionsParse() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).filter { $0.hasSuffix(".json") && $0 != "expected.json" }
        var depths: [Int] = []
        var failures: [(String, FHIRPathError)] = []
        for file in files.sorted() {
            for expression in Self.fhirPathExpressions(in: try Self.fixture(file)) {
                do {
                    depths.append(try FHIRPathExpression(expression).syntax.depth)
                } catch {
                    failures.append((file, error))
                }
            }
        }
        #expect(depths.count == 115)
        #expect(depths.max() == 18, "Framingham's formulas are the deepest, far below the limit")
        #expect(depths.allSatisfy { $0 <= FHIRPathExpression.maximumDepth / 3 })
        // cardiology-form-sdc.json's e-mail pattern contains [a-z0-9!#$%&'*+/=?^_`{|}~-]: the unescaped ' closes
        // the FHIRPath string, and the text after it is not FHIRPath. The position points there.
        #expect(failures.count == 1)
        #expect(failures.first?.0 == "cardiology-form-sdc.json")
        #expect(failures.first?.1.kind == .syntax)
        #expect(failures.first?.1.position?.column == 100)
    }
}
