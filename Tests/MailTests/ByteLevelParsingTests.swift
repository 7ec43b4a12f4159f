import Foundation
import Testing
@testable import Mail

// The parser's hot paths work on UTF-8 bytes (MailBytes.swift) but must answer exactly as the
// Character / Foundation code they replaced. These inputs are where a plain byte rewrite would
// differ: a combining mark or an Arabic "prepend" sign (U+0600) glued to an ASCII "<", ">", ":",
// "?" or space, CR LF as one Character, non-ASCII white space. Expected values are what the
// String-based parser returned.

@Test func encodedWordGuardKeepsFoundationMatching() {
    // Foundation's contains("=?") does not match a "?" that carries a combining mark: left as is.
    #expect(MailEncoding.decodeEncodedWords("x =?\u{301}utf-8?q?a?=") == "x =?\u{301}utf-8?q?a?=")
    #expect(MailEncoding.decodeEncodedWords("=?utf-8?q?a?=\u{301} tail") == "a\u{301} tail")
    #expect(MailEncoding.decodeEncodedWords("a=?utf-8?B?0JA=?=") == "aА")
    #expect(containsText("a =?b", "=?") && !containsText("a = ?b", "=?") && !containsText("=?\u{301}", "=?"))
    #expect(MailEncoding.normalizeCharset(" \"UTF_8*ru\" ") == "utf-8" && MailEncoding.normalizeCharset("CP1251") == "windows-1251")
    #expect(MailEncoding.normalizeCharset("Ünicode") == "ünicode", "non-ASCII names keep the Unicode lowercasing")
}

@Test func quoteSplittingOnBytesKeepsCharacterRules() {
    func split(_ s: String) -> (String, String?) { MailText.splitQuote(s) }
    #expect(split("Hi\n>\u{301} not a quote") == ("Hi\n>\u{301} not a quote", nil), "\">\" with a combining mark is no quote")
    #expect(split("Hi\n> quote") == ("Hi", "> quote"))
    #expect(split("Ok\n\nBob \u{600}wrote:\n> old") == ("Ok\n\nBob \u{600}wrote:", "> old"), "U+0600 joins the \"w\": no \"wrote:\"")
    #expect(split("Ok\n\nOn 1 Jan Bob wrote:\n> old") == ("Ok", "On 1 Jan Bob wrote:\n> old"))
    #expect(split("Ok\n\nFrom: a\nSent: b\n\nold") == ("Ok", "From: a\nSent: b\n\nold"))
    #expect(split("Text\u{A0}\n\n> q\u{2028}") == ("Text", "> q"), "NBSP and U+2028 are trimmed")
    #expect(split("") == ("", nil) && split("\n \n") == ("", nil))
}

@Test func addressesAndIdsOnBytesKeepCharacterRules() {
    func a(_ s: String) -> [String] { HeaderSyntax.addresses(s).map { "\($0.name ?? "-")|\($0.address)" } }
    #expect(a("\"A\u{301}\" <a@B.example>") == ["A\u{301}|a@b.example"])
    #expect(a("<\u{301}a@B.example>") == ["-|<\u{301}a@b.example"], "\"<\" with a combining mark opens no angle address")
    #expect(a("Иван <a@B.EXAMPLE>") == ["Иван|a@b.example"])
    #expect(a("a@B.example\r\n (C)") == ["C|a@b.example"])
    #expect(a("\"x\r\ny\" <q@Q>") == ["x\r\ny|q@q"])
    #expect(a("\u{212A}@x <k@x>") == ["-|k@x"], "a name equal to the address but for case (Kelvin sign) is dropped")
    #expect(HeaderSyntax.messageIds("<a@b>\u{301} <c@d>") == ["c@d"])
    #expect(HeaderSyntax.messageIds("a@b\u{301}, <c@d") == ["a@b\u{301}", "c@d"])
    #expect(HeaderSyntax.messageIds("<a @b> <c\t@d>") == ["a@b", "c@d"])
    #expect(HeaderSyntax.messageIds("(x <y@z>) <a@b>") == ["a@b"])
}

@Test func parametersAndDatesOnBytesKeepCharacterRules() {
    let p = HeaderSyntax.parameters("text/plain; name=\"a\\\r\nb\"; charset=\"koi8-r\"")
    #expect(p.value == "text/plain" && p.params == ["charset": "koi8-r", "name": "a\r\nb"])
    #expect(HeaderSyntax.parameters("text/plain; a=1;\u{301} b=2").params == ["a": "1;\u{301} b=2"], "\";\" with a mark separates nothing")
    #expect(HeaderSyntax.parameters("Text/Plain;Charset=UTF_8").params == ["charset": "UTF_8"])
    #expect(HeaderSyntax.date("Mon, 15 Jan 2024 10:30\r\n:00 +0300")?.timeIntervalSince1970 == 1705266000)
    #expect(HeaderSyntax.date("15 Jan 2024 10:30:00 +0300\u{301}")?.timeIntervalSince1970 == 1705314600)
    #expect(HeaderSyntax.date("15 jAN 2024 10:30 cest")?.timeIntervalSince1970 == 1705307400)
    #expect(HeaderSyntax.date("15.01.24 +-130")?.timeIntervalSince1970 == 1705282200)
    #expect(HeaderSyntax.date("1 Jan 2024 99999999999999999999:00")?.timeIntervalSince1970 == 1704067200, "an overflowing time is skipped")
}

@Test func textHelpersOnBytesKeepCharacterRules() {
    #expect(trimText("\u{A0} x \u{2028}", newlines: false) == "x \u{2028}" && trimText("\u{A0} x \u{2028}", newlines: true) == "x")
    #expect(trimText("\u{85}x\u{3000}", newlines: false) == "\u{85}x" && trimText(" \u{301}x\t", newlines: true) == "\u{301}x")
    #expect(MailText.htmlToText("a \u{600} \nb  \n") == "a \u{600} b")
    #expect(MailText.htmlToText("<pre>a \u{600} \nb  </pre>") == "a \u{600} \nb")
    #expect(MailText.htmlToText("x&#160;") == "x" && MailText.htmlToText("<p>a</p>&#13;\n") == "a")
    #expect(MailText.unflow(">\u{301}a \nb", delsp: true) == ">\u{301}ab")
    #expect(MailText.unflow("> a \n> b", delsp: true) == "> ab" && MailText.unflow(">> x \n> y", delsp: true) == ">> x\n> y")
    #expect(MailText.unflow("-- \nsig", delsp: true) == "-- \nsig")
    #expect(normaliseNewlines("a\r\r\nb\rc\n") == "a\n\nb\nc\n")
    var bytes = Array("\r\na\r\r\n\r".utf8)
    normaliseNewlines(bytes: &bytes)
    #expect(bytes == Array("\na\n\n\n".utf8))
}

@Test func wholeMessageThroughTheByteLevelPaths() {
    let raw = Array(("From: =?UTF-8?B?0JjQstCw0L0=?= <user@Org.Example>\r\nSubject: a\tb =?utf-8?q?c?=\r\n\tfolded\r\n"
        + "Return-Path: < >\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\u{FEFF}Hi\r\n\r\nOn Mon, Bob wrote:\r\n> q\r\n").utf8)
    let m = MailMessage.parse(raw)
    #expect(m.from == [MailAddress(name: "Иван", address: "user@org.example")])
    #expect(m.subject == "a b c folded" && m.isAutomatic)
    #expect(m.text == "Hi\n\nOn Mon, Bob wrote:\n> q\n", "BOM dropped, line ends normalised")
    #expect(m.newText == "Hi" && m.quotedText == "On Mon, Bob wrote:\n> q")
    #expect(m.headers.map(\.value) == ["=?UTF-8?B?0JjQstCw0L0=?= <user@Org.Example>", "a\tb =?utf-8?q?c?=\tfolded", "< >",
                                       "text/plain; charset=utf-8"])
    #expect(m.header("SUBJECT") == "a\tb c\tfolded" && m.headerValues("return-path") == ["< >"])
}
