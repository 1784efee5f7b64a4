import Foundation
@testable import SkiffImage
import Testing

@Suite("page preprocessing before OCR")
struct PreprocessTests {
    /// Dark horizontal bars (text rows) on white, `skew` degrees off level.
    func rows(width: Int = 600, height: Int = 400, skew: Double = 0) -> PixelBuffer {
        var page = PixelBuffer(width: width, height: height, layout: .gray, filledWith: 255)
        let slope = tan(skew * .pi / 180)
        for y in 0..<height {
            for x in 0..<width {
                let level = Double(y) - Double(x) * slope
                if Int(level) % 40 < 8 && level > 20 && level < Double(height - 40) && x > 40 && x < width - 40 {
                    page.pixels[y * width + x] = 30
                }
            }
        }
        return page
    }

    @Test func upscalesLowResolutionPagesTo300DPIAndMapsBoxesBack() {
        var page = rows()
        page.resolution = Resolution(dpi: 150)
        let (out, t) = PagePreprocessor.apply([.upscale], to: page)
        #expect(out.width == 1200 && out.height == 800)
        #expect(out.resolution == Resolution(dpi: 300))
        #expect(t.scale == 2)
        let (x0, y0, x1, y1) = t.original(x0: 200, y0: 100, x1: 400, y1: 160)
        #expect((x0, y0, x1, y1) == (100, 50, 200, 80))
        // Already 300 DPI: nothing to do.
        page.resolution = Resolution(dpi: 300)
        #expect(PagePreprocessor.apply([.upscale], to: page).1.isIdentity)
    }

    @Test func contrastStretchesAndBinarizeLeavesBlackAndWhite() {
        var faint = rows()
        faint.pixels = faint.pixels.map { $0 == 255 ? 200 : 150 }
        let (stretched, _) = PagePreprocessor.apply([.contrast], to: faint)
        #expect(stretched.pixels.min() == 0 && stretched.pixels.max() == 255)
        let (binary, _) = PagePreprocessor.apply([.binarize], to: faint)
        #expect(Set(binary.pixels) == [0, 255])
        // Ink stays ink, paper stays paper.
        #expect(binary.pixels[42 * 600 + 300] == 0 && binary.pixels[60 * 600 + 300] == 255)
    }

    @Test func deskewFindsTheSkewAndLevelsTheRows() {
        let skewed = rows(skew: 2)
        #expect(abs(PagePreprocessor.skewAngle(skewed) - 2) <= 0.25)
        #expect(PagePreprocessor.skewAngle(rows()) == 0)
        let (level, t) = PagePreprocessor.apply([.deskew], to: skewed)
        #expect(abs(t.degrees - 2) <= 0.25)
        #expect(abs(PagePreprocessor.skewAngle(level)) <= 0.25)
        // A box at the centre maps back to about the same place.
        let (x0, y0, _, _) = t.original(x0: 300, y0: 200, x1: 310, y1: 210)
        #expect(abs(x0 - 300) <= 2 && abs(y0 - 200) <= 2)
    }
}
