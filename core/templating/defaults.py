"""The prefilled template of a new invitation campaign, in French and English. The French
is typeset as Quebec writes it (a patient reads it): a no-break space before a colon
(\u00a0), a narrow one before a semicolon or a question mark (\u202f), so that no line
starts with one."""

DEFAULT_INVITATION: dict[str, dict[str, str]] = {
    "fr": {
        "subject": "{{ clinic.name }} vous invite à rejoindre son application patient",
        "body": """\
Bonjour{% if patient.first_name %} {{ patient.first_name }}{% endif %},

{{ clinic.name }} vous invite à utiliser son application patient\u00a0: vous y recevrez \
les messages de la clinique directement sur votre téléphone.

Pour relier votre compte à la clinique\u00a0:

1. ouvrez votre invitation personnelle\u00a0: [rejoindre {{ clinic.name }}]({{ invitation.url }})\u202f;
2. connectez-vous à l'application ou créez votre compte\u202f;
3. si on vous le demande, saisissez votre code d'invitation\u00a0: **{{ invitation.code }}**

Cette invitation est valide jusqu'au **{{ invitation.expires_on }}**. \
Elle vous est personnelle\u00a0: merci de ne pas la transmettre.

Une question\u202f? Appelez-nous au {{ clinic.phone }}.

Au plaisir de vous retrouver dans l'application,
{{ clinic.name }}

Vous ne souhaitez plus recevoir nos courriels\u202f? [Se désabonner]({{ unsubscribe.url }})
""",
    },
    "en": {
        "subject": "{{ clinic.name }} invites you to join its patient app",
        "body": """\
Hello{% if patient.first_name %} {{ patient.first_name }}{% endif %},

{{ clinic.name }} invites you to use its patient app, where you will receive \
the clinic's messages right on your phone.

To link your account to the clinic:

1. open your personal invitation: [join {{ clinic.name }}]({{ invitation.url }})
2. sign in to the app or create your account
3. if asked, enter your invitation code: **{{ invitation.code }}**

This invitation is valid until **{{ invitation.expires_on }}**. \
It is meant for you alone: please do not share it.

Any questions? Call us at {{ clinic.phone }}.

We look forward to seeing you on the app,
{{ clinic.name }}

No longer wish to receive our emails? [Unsubscribe]({{ unsubscribe.url }})
""",
    },
}
