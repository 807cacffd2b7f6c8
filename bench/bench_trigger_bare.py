"""The baseline of bench_trigger.py: a bare DRF view in a minimal Django project of its own.

DESIGN §8: an ``APIView`` with no authentication, permissions or parsers that answers
202, in a project with no middleware and no database. Served by the same gunicorn
command as the site (``gunicorn bench.bench_trigger_bare:application``).
"""

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only-not-a-secret",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=["rest_framework"],
    DATABASES={},
    USE_TZ=True,
    REST_FRAMEWORK={"UNAUTHENTICATED_USER": None, "DEFAULT_AUTHENTICATION_CLASSES": [], "DEFAULT_PERMISSION_CLASSES": []},
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402


class Bare(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    parser_classes: list = []
    renderer_classes = [JSONRenderer]

    def post(self, request):
        return Response({"job": "00000000-0000-0000-0000-000000000000", "status": "queued", "coalesced": True}, status=202)

    def get(self, request):  # the readiness probe
        return Response({"ready": True})


urlpatterns = [path("bench/bare", Bare.as_view())]
application = get_wsgi_application()
