"""The Danish words of the account pages: the realm's password rules and identity's error codes."""
from __future__ import annotations

from typing import Any

from ..adapters.gateway_client import Rejected

POLICY_RULES = {
    "length": "Mindst {value} tegn",
    "maxLength": "Højst {value} tegn",
    "upperCase": "Mindst {value} store bogstaver",
    "lowerCase": "Mindst {value} små bogstaver",
    "digits": "Mindst {value} tal",
    "specialChars": "Mindst {value} specialtegn (f.eks. ! # - _)",
    "notUsername": "Må ikke være det samme som dit brugernavn",
    "notContainsUsername": "Må ikke indeholde dit brugernavn",
    "notEmail": "Må ikke være det samme som din e-mailadresse",
    "passwordHistory": "Må ikke være en af dine {value} seneste adgangskoder",
    "regexPattern": "Skal følge registerets mønster for adgangskoder",
}

# Keycloak's message keys for a refused password (identity passes them on as the field's code).
PASSWORD_CODES = {
    "invalidPasswordMinLengthMessage": "Adgangskoden er for kort.",
    "invalidPasswordMaxLengthMessage": "Adgangskoden er for lang.",
    "invalidPasswordMinUpperCaseCharsMessage": "Adgangskoden skal indeholde flere store bogstaver.",
    "invalidPasswordMinLowerCaseCharsMessage": "Adgangskoden skal indeholde flere små bogstaver.",
    "invalidPasswordMinDigitsMessage": "Adgangskoden skal indeholde flere tal.",
    "invalidPasswordMinSpecialCharsMessage": "Adgangskoden skal indeholde flere specialtegn.",
    "invalidPasswordNotUsernameMessage": "Adgangskoden må ikke være det samme som dit brugernavn.",
    "invalidPasswordNotContainsUsernameMessage": "Adgangskoden må ikke indeholde dit brugernavn.",
    "invalidPasswordNotEmailMessage": "Adgangskoden må ikke være det samme som din e-mailadresse.",
    "invalidPasswordHistoryMessage": "Du har brugt denne adgangskode for nylig. Vælg en anden.",
    "invalidPasswordRegexPatternMessage": "Adgangskoden følger ikke registerets mønster for adgangskoder.",
    "invalidPasswordBlacklistedMessage": "Adgangskoden er for almindelig. Vælg en anden.",
    "required": "Skriv en adgangskode.",
    "too_long": "Adgangskoden er for lang.",
}
PASSWORD_REFUSED = "Adgangskoden opfylder ikke kravene nedenfor."

PROFILE_CODES = {
    "required": "Skal udfyldes.",
    "too_long": "Er for langt (højst 100 tegn).",
    "invalid_characters": "Må ikke indeholde tegnene < > & \" $ % ! # ? § ; * ~ / \\ | ^ = [ ] { } ( ).",
    "invalid_email": "Skriv en gyldig e-mailadresse, f.eks. navn@hospital.dk.",
    "invalid_phone": "Skriv et dansk mobilnummer med 8 cifre (gerne med +45 foran) eller et udenlandsk "
                     "nummer med landekode.",
    "email_taken": "En anden bruger har allerede denne e-mailadresse.",
}
SOMETHING_WRONG = "Oplysningerne kunne ikke gemmes. Ret felterne, og prøv igen."

RESET_MESSAGES = {
    "invalid_code": "Koden er forkert. Du har {left} forsøg tilbage.",
    "code_expired": "Koden er udløbet eller allerede brugt. Få tilsendt en ny kode.",
    "reset_expired": "Nulstillingen er udløbet eller afbrudt efter for mange forkerte koder. Start forfra.",
    "too_many_codes": "Der er sendt for mange koder til denne bruger. Vent en time, og prøv igen.",
    "rate_limited": "Der er for mange forsøg fra din forbindelse. Vent lidt, og prøv igen.",
}


def policy_lines(policy: list[dict[str, Any]]) -> list[str]:
    """The realm's rules in Danish, in the realm's order (unknown rules are left out)."""
    lines = []
    for rule in policy or []:
        text = POLICY_RULES.get(rule.get("rule", ""))
        if text:
            lines.append(text.format(value=rule.get("value") or ""))
    return lines


def codes_of(error: Rejected) -> dict[str, str]:
    codes = error.problem.get("codes")
    return codes if isinstance(codes, dict) else {}


def tries_left(error: Rejected) -> str:
    """The number in identity's "wrong; N tries left" (the page says it in Danish)."""
    message = " ".join(error.field_errors.get("code") or [])
    digits = [word for word in message.replace(";", " ").split() if word.isdigit()]
    return digits[0] if digits else "0"
