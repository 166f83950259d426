// Twelve trainees as a training office's spreadsheet lists them, and the
// CSV file French Excel saves from it.

export const HEADER = "Civilité;Nom;Prénom;Adresse e-mail;Société;Téléphone";
export const TRAINEES = [
  ["Mme", "Lefèvre", "Élodie", "elodie.lefevre@example.org", "Transports Martin SA"],
  ["M.", "Benali", "Karim", "karim.benali@example.org", "Transports Martin SA"],
  ["Mme", "N'Diaye", "Aïssa", "aissa.ndiaye@example.org", ""],
  ["M.", "Çelik", "Oğuz", "oguz.celik@example.org", "Boulangerie Dupain"],
  ["Mme", "Dubois", "Sophie", "sophie.dubois@example.org", ""],
  ["M.", "Moreau", "Julien", "julien.moreau@example.org", "Garage Moreau"],
  ["Mme", "Garnier", "Chloé", "chloe.garnier@example.org", ""],
  ["M.", "Faure", "Thomas", "thomas.faure@example.org", "Mairie de Lyon"],
  ["Mme", "Rousseau", "Inès", "ines.rousseau@example.org", ""],
  ["M.", "Blanc", "Léo", "leo.blanc@example.org", "Clinique du Parc"],
  ["Mme", "Guerin", "Manon", "manon.guerin@example.org", ""],
  ["M.", "Muller", "Hugo", "hugo.muller@example.org", "Atelier Muller"],
];

/** A file as French Excel saves « CSV UTF-8 »: BOM, `;`, CRLF. @param {string[][]} rows */
export function csv(rows) {
  return Buffer.from(`\u{feff}${[HEADER, ...rows.map((r) => [...r, "06 00 00 00 00"].join(";"))].join("\r\n")}\r\n`, "utf8");
}

