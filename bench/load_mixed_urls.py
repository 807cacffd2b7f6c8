"""The site's URLs plus the baseline of bench/load_mixed.py: a DRF view that only answers 202."""

from django.urls import path
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from snapshots_site.urls import urlpatterns as site_urlpatterns


class Bare(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    parser_classes: list = []
    renderer_classes = [JSONRenderer]

    def post(self, request):
        return Response({"job": "00000000-0000-0000-0000-000000000000", "status": "queued", "coalesced": True}, status=202)


urlpatterns = [path("bench/bare", Bare.as_view()), *site_urlpatterns]
