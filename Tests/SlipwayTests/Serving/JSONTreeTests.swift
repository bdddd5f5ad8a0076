import Foundation
import SlipwayDomain
import SlipwayServing
import Testing

/// The gateway's own JSON reader and writer: what JSON allows is read exactly (numbers keep their text, escapes and
/// surrogate pairs decode), what it does not is refused saying where, and what is written reads back the same.
@Suite("JSON tree")
struct JSONTreeTests {
    @Test func valuesAreReadExactly() throws {
        let tree = try JSONTree.parse(
            Array(#" {"a": [1, -2.5e3, 0, 9007199254740993], "s": "caf\u00e9 \ud83d\ude00 \"q\" \\ \n", "t": true, "f": false, "n": null, "e": {}, "l": []} "#.utf8))
        #expect(tree["a"]?.array == [.number("1"), .number("-2.5e3"), .number("0"), .number("9007199254740993")])
        #expect(tree["a"]?.array?[3].integer == 9_007_199_254_740_993, "integers stay exact past 2^53")
        #expect(tree["a"]?.array?[1].double == -2500)
        #expect(tree["s"]?.string == "café 😀 \"q\" \\ \n")
        #expect(tree["t"]?.bool == true && tree["f"]?.bool == false && tree["n"] == .null)
        #expect(tree["e"] == .object([]) && tree["l"] == .array([]))
        #expect(JSONTree.number("3.0").integer == 3 && JSONTree.number("3.5").integer == nil)
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "01", "1.", "1e", "-", "tru", "nul", "\"abc", "\"\\x\"", "\"\\ud800\"", "[1] 2",
        "\"\u{1}\"", String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
    ])
    func malformedTextIsRefused(_ text: String) {
        #expect(throws: JSONTreeError.self, "\(text.prefix(20))") { try JSONTree.parse(Array(text.utf8)) }
    }

    @Test func writtenTextReadsBackTheSame() throws {
        let tree = JSONTree.object([
            ("name", .string("tab\there \"quoted\" \u{1} é")), ("numbers", .array([.number("1"), .number("-0.25")])), ("ok", .bool(true)), ("none", .null),
        ])
        var text = JSONText()
        text.value(tree)
        #expect(try JSONTree.parse(text.bytes) == tree)
        #expect(try JSONSerialization.jsonObject(with: text.data) is [String: Any], "Foundation reads it too")
        var numbers = JSONText()
        numbers.double(0.1)
        numbers.raw(",")
        numbers.float(0.1)
        numbers.raw(",")
        numbers.double(3)
        numbers.raw(",")
        numbers.double(.nan)
        #expect(numbers.string == #"0.1,0.1,3,"nan""#, "shortest forms; NaN, which JSON cannot hold, as a string")
    }
}
