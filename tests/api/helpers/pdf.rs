//! Reading back a PDF the service drew, with independent tools from Debian (installed by
//! tests/run.sh): poppler's `pdftotext` for the text of each page (through the embedded font's
//! own character map), and `pdftoppm` with zbar's `zbarimg` for the QR code each page shows.

use std::path::Path;
use std::process::Command;

/// The text of each page, in reading order (`pdftotext -layout`).
pub fn pdf_pages(pdf: &Path) -> Vec<String> {
    let out = Command::new("pdftotext")
        .arg("-layout")
        .arg("-enc")
        .arg("UTF-8")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (Debian's poppler-utils) runs");
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

/// The QR codes of each page, decoded: the page rendered at 150 dpi (`pdftoppm`), then read
/// by `zbarimg`.
pub fn pdf_qr_codes(pdf: &Path, work: &Path) -> Vec<Vec<String>> {
    std::fs::create_dir_all(work).unwrap();
    let prefix = work.join("page");
    let rendered = Command::new("pdftoppm")
        .args(["-r", "150", "-gray", "-png"])
        .arg(pdf)
        .arg(&prefix)
        .status()
        .expect("pdftoppm (Debian's poppler-utils) runs");
    assert!(rendered.success(), "pdftoppm failed");
    let mut images: Vec<_> = std::fs::read_dir(work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    images.sort();
    images
        .iter()
        .map(|image| {
            let out = Command::new("zbarimg")
                .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
                .arg(image)
                .output()
                .expect("zbarimg (Debian's zbar-tools) runs");
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .collect()
}
