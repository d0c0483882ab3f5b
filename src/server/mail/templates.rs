//! The e-mail templates — an invitation, a password reset — in the recipient's language
//! (`en`, `fr`, `ja`), each as plain text and HTML. Values typed by people (tenant names,
//! the personal message) are escaped in the HTML part.

use crate::model::Language;

/// What an invitation e-mail says.
#[derive(Debug, Clone)]
pub struct InvitationMail<'a> {
    /// The display names of the tenants it names.
    pub tenants: &'a [String],
    /// The inviter's personal message (seed 001).
    pub message: Option<&'a str>,
    pub link: &'a str,
    /// When the link stops working (RFC 3339, UTC).
    pub expires: &'a str,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

struct Words {
    subject: &'static str,
    hello: &'static str,
    invited: &'static str,
    message: &'static str,
    action: &'static str,
    expires: &'static str,
    ignore: &'static str,
}

fn words(lang: Language) -> Words {
    match lang {
        Language::En => Words {
            subject: "You are invited to join",
            hello: "Hello,",
            invited: "You have been invited to join:",
            message: "Message from the person who invited you:",
            action: "To accept the invitation and choose your password, open this link:",
            expires: "This link works once and expires on",
            ignore: "If you did not expect this invitation, you can ignore this e-mail.",
        },
        Language::Fr => Words {
            subject: "Vous êtes invité à rejoindre",
            hello: "Bonjour,",
            invited: "Vous avez été invité à rejoindre :",
            message: "Message de la personne qui vous invite :",
            action: "Pour accepter l'invitation et choisir votre mot de passe, ouvrez ce lien :",
            expires: "Ce lien ne fonctionne qu'une fois et expire le",
            ignore: "Si vous n'attendiez pas cette invitation, vous pouvez ignorer ce courriel.",
        },
        Language::Ja => Words {
            subject: "招待が届いています:",
            hello: "こんにちは。",
            invited: "次の組織に招待されました:",
            message: "招待した人からのメッセージ:",
            action: "招待を承諾してパスワードを設定するには、次のリンクを開いてください:",
            expires: "このリンクは一度だけ使用でき、有効期限は次のとおりです:",
            ignore: "心当たりのない場合は、このメールを無視してください。",
        },
    }
}

/// `<`, `>`, `&`, `"` and `'` as HTML entities.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The invitation e-mail in `lang`.
pub fn invitation(lang: Language, m: &InvitationMail) -> Rendered {
    let w = words(lang);
    let names = m.tenants.join(", ");
    let subject = format!("{} {names}", w.subject);
    let mut text = format!("{}\n\n{}\n", w.hello, w.invited);
    for t in m.tenants {
        text.push_str(&format!("  - {t}\n"));
    }
    if let Some(msg) = m.message.filter(|s| !s.trim().is_empty()) {
        text.push_str(&format!("\n{}\n\n", w.message));
        for line in msg.lines() {
            text.push_str(&format!("  {line}\n"));
        }
    }
    text.push_str(&format!(
        "\n{}\n\n{}\n\n{} {}.\n\n{}\n",
        w.action, m.link, w.expires, m.expires, w.ignore
    ));
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n<p>{}</p>\n<p>{}</p>\n<ul>\n",
        lang_tag(lang),
        escape_html(&subject),
        escape_html(w.hello),
        escape_html(w.invited)
    );
    for t in m.tenants {
        html.push_str(&format!("<li>{}</li>\n", escape_html(t)));
    }
    html.push_str("</ul>\n");
    if let Some(msg) = m.message.filter(|s| !s.trim().is_empty()) {
        html.push_str(&format!(
            "<p>{}</p>\n<blockquote>{}</blockquote>\n",
            escape_html(w.message),
            escape_html(msg).replace('\n', "<br>")
        ));
    }
    let link = escape_html(m.link);
    html.push_str(&format!(
        "<p>{}</p>\n<p><a href=\"{link}\">{link}</a></p>\n<p>{} {}.</p>\n<p>{}</p>\n</body></html>\n",
        escape_html(w.action),
        escape_html(w.expires),
        escape_html(m.expires),
        escape_html(w.ignore)
    ));
    Rendered {
        subject,
        text,
        html,
    }
}

/// What a password reset e-mail says.
#[derive(Debug, Clone)]
pub struct ResetMail<'a> {
    pub link: &'a str,
    /// When the link stops working (RFC 3339, UTC).
    pub expires: &'a str,
    /// Sent to every user after an incident ("change all passwords"), not asked for.
    pub incident: bool,
}

struct ResetWords {
    subject: &'static str,
    hello: &'static str,
    asked: &'static str,
    incident: &'static str,
    action: &'static str,
    expires: &'static str,
    ignore: &'static str,
}

fn reset_words(lang: Language) -> ResetWords {
    match lang {
        Language::En => ResetWords {
            subject: "Reset your password",
            hello: "Hello,",
            asked: "Someone asked to reset the password of your account.",
            incident: "As a security measure, your administrators ask every user to choose a new password.",
            action: "To choose a new password, open this link:",
            expires: "This link works once and expires on",
            ignore: "If you did not ask for this, you can ignore this e-mail: your password stays as it is.",
        },
        Language::Fr => ResetWords {
            subject: "Réinitialisez votre mot de passe",
            hello: "Bonjour,",
            asked: "Une réinitialisation du mot de passe de votre compte a été demandée.",
            incident: "Par mesure de sécurité, vos administrateurs demandent à chaque utilisateur de choisir un nouveau mot de passe.",
            action: "Pour choisir un nouveau mot de passe, ouvrez ce lien :",
            expires: "Ce lien ne fonctionne qu'une fois et expire le",
            ignore: "Si vous n'êtes pas à l'origine de cette demande, ignorez ce courriel : votre mot de passe reste inchangé.",
        },
        Language::Ja => ResetWords {
            subject: "パスワードの再設定",
            hello: "こんにちは。",
            asked: "お使いのアカウントのパスワード再設定が依頼されました。",
            incident: "セキュリティ対策として、管理者がすべてのユーザーに新しいパスワードの設定を求めています。",
            action: "新しいパスワードを設定するには、次のリンクを開いてください:",
            expires: "このリンクは一度だけ使用でき、有効期限は次のとおりです:",
            ignore: "心当たりのない場合は、このメールを無視してください。パスワードは変更されません。",
        },
    }
}

fn lang_tag(lang: Language) -> &'static str {
    match lang {
        Language::En => "en",
        Language::Fr => "fr",
        Language::Ja => "ja",
    }
}

/// The password reset e-mail in `lang`.
pub fn password_reset(lang: Language, m: &ResetMail) -> Rendered {
    let w = reset_words(lang);
    let why = if m.incident { w.incident } else { w.asked };
    let mut text = format!(
        "{}\n\n{why}\n\n{}\n\n{}\n\n{} {}.\n",
        w.hello, w.action, m.link, w.expires, m.expires
    );
    if !m.incident {
        text.push_str(&format!("\n{}\n", w.ignore));
    }
    let link = escape_html(m.link);
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n<p>{}</p>\n<p>{}</p>\n<p>{}</p>\n<p><a href=\"{link}\">{link}</a></p>\n<p>{} {}.</p>\n",
        lang_tag(lang),
        escape_html(w.subject),
        escape_html(w.hello),
        escape_html(why),
        escape_html(w.action),
        escape_html(w.expires),
        escape_html(m.expires),
    );
    if !m.incident {
        html.push_str(&format!("<p>{}</p>\n", escape_html(w.ignore)));
    }
    html.push_str("</body></html>\n");
    Rendered {
        subject: w.subject.to_string(),
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_in_each_language_carries_the_link_and_the_message() {
        let tenants = vec!["Acme <SAS>".to_string(), "Globex".to_string()];
        let m = InvitationMail {
            tenants: &tenants,
            message: Some("Bienvenue à bord\n— Alice"),
            link: "https://app.example/accept-invitation?token=abc",
            expires: "2026-12-07T09:00:00Z",
        };
        for (lang, word) in [
            (Language::En, "invited"),
            (Language::Fr, "invité"),
            (Language::Ja, "招待"),
        ] {
            let r = invitation(lang, &m);
            assert!(r.subject.contains(word), "{}", r.subject);
            assert!(r.text.contains(m.link) && r.html.contains(m.link));
            assert!(r.text.contains("Bienvenue à bord") && r.html.contains("Bienvenue à bord"));
            assert!(r.text.contains("Acme <SAS>"));
            assert!(r.html.contains("Acme &lt;SAS&gt;") && !r.html.contains("<SAS>"));
        }
        let none = InvitationMail {
            message: None,
            ..m.clone()
        };
        assert!(!invitation(Language::En, &none)
            .text
            .contains("Message from"));
    }

    #[test]
    fn a_reset_in_each_language_carries_the_link_and_says_why() {
        let m = ResetMail {
            link: "https://app.example/reset-password?token=a&b",
            expires: "2026-12-01T09:00:00Z",
            incident: false,
        };
        for (lang, word) in [
            (Language::En, "password"),
            (Language::Fr, "mot de passe"),
            (Language::Ja, "パスワード"),
        ] {
            let r = password_reset(lang, &m);
            assert!(r.subject.to_lowercase().contains(word), "{}", r.subject);
            assert!(r.text.contains(m.link) && r.text.contains(m.expires));
            assert!(r.html.contains("token=a&amp;b") && !r.html.contains("token=a&b"));
            let incident = password_reset(
                lang,
                &ResetMail {
                    incident: true,
                    ..m.clone()
                },
            );
            assert_ne!(incident.text, r.text);
            assert!(incident.text.contains(m.link));
        }
    }
}
