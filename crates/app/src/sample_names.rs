//! The names of the sample site: its customers, suppliers, employees, territories,
//! departments and accounts. `accesslog demo` fills its records from them, and the alerts
//! corpus (`alerts::corpus`) draws its synthetic users and filters from the same lists, so
//! that the corpus reads like traffic on the demo site.

pub const FIRST: [&str; 25] = [
    "Ana", "Ben", "Chen", "Dara", "Elif", "Femi", "Gita", "Hugo", "Ines", "Jon", "Kai", "Lena",
    "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Vik", "Wen", "Yara",
    "Zoe",
];

pub const LAST: [&str; 12] = [
    "Ruiz", "Okafor", "Schmidt", "Tanaka", "Novak", "Haddad", "Silva", "Kowalski", "Moreau",
    "Larsen", "Iyer", "Brown",
];

pub const ADJECTIVES: [&str; 20] = [
    "Acme", "Blue", "Bright", "Cedar", "Delta", "Eagle", "First", "Golden", "Harbor", "Iron",
    "Jade", "Kite", "Lotus", "Maple", "North", "Oak", "Pine", "Quartz", "River", "Summit",
];

pub const NOUNS: [&str; 10] = [
    "Trading",
    "Foods",
    "Logistics",
    "Textiles",
    "Motors",
    "Pharma",
    "Builders",
    "Retail",
    "Energy",
    "Labs",
];

pub const SUFFIXES: [&str; 4] = ["Ltd", "Inc", "GmbH", "LLC"];

pub const TERRITORIES: [&str; 6] = ["North", "South", "East", "West", "Central", "Export"];

pub const DEPARTMENTS: [&str; 5] = [
    "Accounts",
    "Sales",
    "Human Resources",
    "Operations",
    "Management",
];

pub const ACCOUNTS: [&str; 8] = [
    "Debtors",
    "Sales",
    "Cash",
    "Bank",
    "Creditors",
    "Cost of Goods Sold",
    "Salary",
    "VAT Payable",
];
