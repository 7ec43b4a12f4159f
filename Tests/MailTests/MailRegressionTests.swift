import Foundation
import Testing
@testable import Mail

// Regression tests for parser bugs found by the fixture corpus, by review and by the libFuzzer
// target (Tools/fuzz). Inputs are inline and small.

/// Streaming a quoted-printable attachment in chunks cut a whitespace run at the chunk end and
/// dropped it as "trailing whitespace" (200 spaces then "x": 101 bytes streamed instead of 203).
@Test func quotedPrintableChunkCutInsideWhitespaceRun() {
    let body = String(repeating: " ", count: 200) + "x\r\n" + String(repeating: "= ", count: 150) + "=\r\nend  \r\n"
    let att = MailMessage.parse(Array("Content-Type: text/csv; name=a.csv\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\(body)".utf8)).attachments[0]
    let whole = att.decodedBytes()
    #expect(whole.count == 203 + 300 + 5)
    var streamed: [UInt8] = [], maxPiece = 0
    att.decode(chunkSize: 64) { streamed += $0; maxPiece = max(maxPiece, $0.count) }
    #expect(streamed == whole)
    #expect(maxPiece <= 64)
}

/// Chunked quoted-printable decoding equals whole decoding for any cut, on inputs made of the
/// characters that matter to the decoder ("=", hex digits, whitespace, CR, LF).
@Test func quotedPrintableChunkedEqualsWholeOnRandomInputs() {
    let alphabet = Array("==  \t\r\n\r\nA3Dfx".utf8)
    var rng = SplitMix64(state: 7)
    for round in 0..<400 {
        let n = Int(rng.next() % 600)
        let body = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
        let whole = MailEncoding.quotedPrintableDecode(body)
        for chunk in [64, 65, 100] {
            var streamed: [UInt8] = []
            transferDecode(body, 0..<body.count, .quotedPrintable, chunk: chunk) { buf in
                #expect(buf.count <= chunk)
                streamed.append(contentsOf: buf)
            }
            #expect(streamed == whole, "round \(round), chunk \(chunk): \(String(decoding: body, as: UTF8.self).debugDescription)")
            if streamed != whole { return }
        }
    }
}

/// "---------- Forwarded message ---------" (Gmail), "Begin forwarded message:" (Apple Mail) and the
/// Russian forward separators start the quoted part; before, Gmail's separator line stayed at the
/// end of newText (the cut came from the From:/Date: block below it).
@Test func forwardSeparatorsStartTheQuote() {
    let gmail = MailText.splitQuote("See below.\n\n---------- Forwarded message ---------\nFrom: A <a@x>\nDate: Mon, 4 Mar 2024\n\nbody")
    #expect(gmail.0 == "See below.")
    #expect(gmail.1?.hasPrefix("---------- Forwarded message ---------\nFrom: A <a@x>") == true)
    #expect(MailText.splitQuote("FYI\n\nBegin forwarded message:\n\nFrom: A <a@x>\nSubject: s").0 == "FYI")
    #expect(MailText.splitQuote("Посмотрите.\n\n-------- Пересылаемое сообщение --------\n07.03.2024, 10:00, \"A\" <a@x>:\nтекст").0 == "Посмотрите.")
    #expect(MailText.splitQuote("Message forwarded message text").1 == nil, "only a separator line counts")
}

/// The attribution line right above a trailing ">" block belongs to the quote, whatever its
/// language ("Am … schrieb …:", Yandex "dd.mm.yyyy, hh:mm, "Name" <addr>:", French "a écrit :").
@Test func attributionLineAboveTrailingQuoteBlock() {
    #expect(MailText.splitQuote("Danke\n\nAm 07.03.2024 um 14:10 schrieb Help Desk <s@x>:\n> alt") ==
        ("Danke", "Am 07.03.2024 um 14:10 schrieb Help Desk <s@x>:\n> alt"))
    #expect(MailText.splitQuote("Спасибо\n\n07.03.2024, 14:10, \"Поддержка\" <s@x>:\n\n> старое") ==
        ("Спасибо", "07.03.2024, 14:10, \"Поддержка\" <s@x>:\n\n> старое"))
    #expect(MailText.splitQuote("Merci\nLe jeu. 7 mars 2024 à 14:10, Support <s@x> a écrit :\n> vieux").0 == "Merci")
    // A colon line without a digit or "@" is the writer's own text, and so is one two blank lines up.
    #expect(MailText.splitQuote("Here is what you said:\n> old").0 == "Here is what you said:")
    #expect(MailText.splitQuote("Log from 10:30:\n\n\n> old").0 == "Log from 10:30:")
}

/// Outlook's HTML (`<p class=MsoNormal>` with zero margins, `<o:p>&nbsp;</o:p>` for empty lines) was
/// converted with a blank line after every line. Ordinary `<p>` keeps its blank-line separation.
@Test func outlookMsoNormalParagraphsAreSingleLines() {
    let html = """
    <div class=WordSection1><p class=MsoNormal>Hello,<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>
    <p class="MsoNormal">line one<o:p></o:p></p><p class="MsoListParagraph">line two</p>
    <p class=MsoNormal style='mso-margin-top-alt:auto'>line three</p><p>plain para</p><p>next para</p></div>
    """
    #expect(MailText.htmlToText(html) == "Hello,\n\nline one\nline two\nline three\n\nplain para\n\nnext para")
}

/// Every unclosed `<head>` (and `<script>`, `<style>`, …) searched the rest of the document for its
/// closing tag, building a String per "<" on the way: 8,000 "<head>x" took 5 s in a release build,
/// a hostile 1 MB body hours. A failed search is now remembered and the search compares bytes.
@Test func unclosedSkipTagsStayLinear() {
    let clock = ContinuousClock(), start = clock.now
    let text = MailText.htmlToText(String(repeating: "<head>x", count: 20_000))
    #expect(text == String(repeating: "x", count: 20_000))
    let mixed = MailText.htmlToText(String(repeating: "<HEAD><Title>t", count: 2_000) + "</tItLe>after")
    #expect(mixed == "after")
    #expect(clock.now - start < .seconds(5))
    // The byte comparison is ASCII case-insensitive and still finds real closing tags.
    #expect(MailText.htmlToText("a<SCRIPT>x</ScRiPt >b<style>y</STYLE>c") == "abc")
}
