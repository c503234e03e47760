"""The prefilled template of a new invitation campaign, in French and English."""

DEFAULT_INVITATION: dict[str, dict[str, str]] = {
    "fr": {
        "subject": "{{ clinic.name }} vous invite à rejoindre son application patient",
        "body": """\
Bonjour{% if patient.first_name %} {{ patient.first_name }}{% endif %},

{{ clinic.name }} vous invite à utiliser son application patient : vous y recevrez \
les messages de la clinique directement sur votre téléphone.

Pour relier votre compte à la clinique :

1. ouvrez votre invitation personnelle : [rejoindre {{ clinic.name }}]({{ invitation.url }}) ;
2. connectez-vous à l'application ou créez votre compte ;
3. si on vous le demande, saisissez votre code d'invitation : **{{ invitation.code }}**

Cette invitation est valide jusqu'au **{{ invitation.expires_on }}**. \
Elle vous est personnelle : merci de ne pas la transmettre.

Une question ? Appelez-nous au {{ clinic.phone }}.

Au plaisir de vous retrouver dans l'application,
{{ clinic.name }}

Vous ne souhaitez plus recevoir nos courriels ? [Se désabonner]({{ unsubscribe.url }})
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
